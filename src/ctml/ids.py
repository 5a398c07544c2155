"""Identifiers: time-ordered, random, 26 characters of Crockford base32 (the ULID layout).

Ids sort by creation time, so listings come out in order without an extra index, and they are safe to make
on many hosts at once (80 random bits per millisecond).

>>> from datetime import datetime, timezone
>>> rid = new_id(datetime(2024, 1, 1, tzinfo=timezone.utc))
>>> len(rid), rid[:10]
(26, '01HK153X00')
"""

from __future__ import annotations

import os
from datetime import datetime

__all__ = ["id_time_ms", "new_id"]

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def new_id(at: datetime) -> str:
    """A new identifier whose first 10 characters encode ``at`` in milliseconds."""
    millis = int(at.timestamp() * 1000)
    value = (millis << 80) | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        chars.append(_ALPHABET[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def id_time_ms(identifier: str) -> int:
    """The creation time of an id made by :func:`new_id`, in Unix milliseconds."""
    value = 0
    for char in identifier[:10].upper():
        value = value * 32 + _ALPHABET.index(char)
    return value
