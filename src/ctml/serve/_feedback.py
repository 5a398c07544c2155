"""Feedback bodies: labels by prediction id, one or a batch, each with an optional time it was observed.

    {"id": "01J...", "label": "UP"}
    {"labels": [{"id": "01J...", "label": "UP", "at": "2024-05-01T12:00:00Z"}, ...]}

Labels may come late and in any order; ``at`` (ISO 8601, default: when received) decides which of two labels
for one prediction is kept.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ctml.clock import utc
from ctml.serve._codec import BadRequest

__all__ = ["parse_feedback"]

_ID = re.compile(r"^[0-9A-HJKMNP-TV-Z]{26}-[0-9]{1,6}$")


def parse_feedback(payload: Any, max_rows: int) -> dict[str, tuple[str, datetime | None]]:
    """``prediction id -> (label as JSON text, label time or None)``; a bad entry is a :class:`BadRequest`.

    >>> parse_feedback({"id": "01HK153X00AAAAAAAAAAAAAAAA-0", "label": 1}, 10)
    {'01HK153X00AAAAAAAAAAAAAAAA-0': ('1', None)}
    """
    if not isinstance(payload, dict):
        raise BadRequest(422, f"The body must be a JSON object. Got {type(payload).__name__}.")
    if "labels" in payload:
        entries = payload["labels"]
        if len(payload) != 1:
            raise BadRequest(422, 'A feedback batch is {"labels": [...]} alone.', "labels")
        if not isinstance(entries, list) or not entries:
            raise BadRequest(422, "'labels' must be a non-empty list of {id, label[, at]} objects.", "labels")
        if len(entries) > max_rows:
            raise BadRequest(
                413, f"'labels' has {len(entries)} entries; this server takes at most {max_rows}.", "labels"
            )
    else:
        entries = [payload]
    out: dict[str, tuple[str, datetime | None]] = {}
    for i, entry in enumerate(entries):
        where = "" if len(entries) == 1 else f" in labels[{i}]"
        if not isinstance(entry, dict):
            raise BadRequest(422, f"Each label is an object {{id, label[, at]}}; got {type(entry).__name__}{where}.")
        extra = sorted(str(k) for k in entry if k not in ("id", "label", "at"))
        if extra:
            raise BadRequest(422, f"Unknown field {extra[0]!r}{where}: a label has id, label and at.", extra[0])
        pid = entry.get("id")
        if not isinstance(pid, str) or not _ID.match(pid):
            raise BadRequest(
                422, f"'id'{where} must be a prediction id as /predict returned it (26 characters, '-', the row).", "id"
            )
        if "label" not in entry:
            raise BadRequest(422, f"'label' is missing{where}.", "label")
        label = entry["label"]
        if label is None or not isinstance(label, str | int | float | bool):
            raise BadRequest(422, f"'label'{where} must be a string, number or boolean; got {label!r}.", "label")
        at = entry.get("at")
        when: datetime | None = None
        if at is not None:
            if not isinstance(at, str):
                raise BadRequest(422, f"'at'{where} must be an ISO 8601 time string.", "at")
            try:
                when = utc(datetime.fromisoformat(at))
            except ValueError:
                raise BadRequest(422, f"'at'{where} is not an ISO 8601 time: {at!r}.", "at") from None
        out[pid] = (json.dumps(label), when)
    return out
