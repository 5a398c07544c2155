"""What a run records about where it ran: Python, platform, key package versions and the git commit."""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from ctml.types import JSONObject

__all__ = ["capture_environment", "git_commit"]

_PACKAGES = (
    "ctml",
    "numpy",
    "scipy",
    "pyarrow",
    "scikit-learn",
    "lightgbm",
    "xgboost",
    "river",
    "torch",
    "pandas",
)


@lru_cache(maxsize=1)
def capture_environment() -> JSONObject:
    """Python, OS and the versions of installed ML packages (cached: it does not change within a process)."""
    packages: JSONObject = {}
    for name in _PACKAGES:
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "packages": packages,
    }


@lru_cache(maxsize=16)
def git_commit(directory: str | None = None) -> str | None:
    """The commit checked out in ``directory`` (default: the working directory), or None outside git."""
    cwd = Path(directory or ".").absolute()
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=cwd, capture_output=True, text=True, timeout=5, check=False
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None
