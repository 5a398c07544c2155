"""``ctml.drift`` exports exactly its public names, each importable."""

from __future__ import annotations

import ctml.drift


def test_all_is_exact() -> None:
    public = {name for name in dir(ctml.drift) if not name.startswith("_")}
    modules = {name for name in public if type(getattr(ctml.drift, name)).__name__ == "module"}
    assert set(ctml.drift.__all__) == public - modules - {"annotations"}
    assert ctml.drift.__all__ == sorted(ctml.drift.__all__, key=lambda n: (not n.isupper(), n[0].islower(), n))
