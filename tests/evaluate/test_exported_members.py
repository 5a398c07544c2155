"""``ctml.evaluate`` exports exactly its public names, each importable."""

from __future__ import annotations

import ctml.evaluate


def test_all_is_exact() -> None:
    public = {name for name in dir(ctml.evaluate) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(ctml.evaluate, name)).__name__ == "module"}
    assert set(ctml.evaluate.__all__) == public - modules - {"annotations"}
    assert ctml.evaluate.__all__ == sorted(ctml.evaluate.__all__, key=lambda n: (not n.isupper(), n[0].islower(), n))
