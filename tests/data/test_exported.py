"""``ctml.data``'s public surface is exactly its ``__all__``, and every name resolves."""

from __future__ import annotations

import ctml.data


def test_all_is_exact_and_sorted() -> None:
    public = {name for name in vars(ctml.data) if not name.startswith("_")} - {"annotations"}
    modules = {name for name in public if type(getattr(ctml.data, name)).__name__ == "module"}
    assert set(ctml.data.__all__) == public - modules
    assert list(ctml.data.__all__) == sorted(ctml.data.__all__, key=lambda n: (not n.isupper(), n))


def test_every_name_resolves() -> None:
    for name in ctml.data.__all__:
        assert getattr(ctml.data, name) is not None, name
