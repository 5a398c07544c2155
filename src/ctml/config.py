"""Settings: one explicit object, read from the environment only when asked.

Nothing is read at import time. :meth:`Settings.from_env` takes the environment as an argument (default:
``os.environ``) and reads variables with the ``CTML_`` prefix:

=====================  ===========================================  =====================================
variable               meaning                                      default
=====================  ===========================================  =====================================
``CTML_HOME``          folder for embedded state                    ``./.ctml``
``CTML_META_URL``      metadata store URL                           ``sqlite:///$CTML_HOME/meta.db``
``CTML_ARTIFACT_URL``  artifact store URL                           ``file://$CTML_HOME/artifacts``
``CTML_AUTO_MIGRATE``  upgrade an older metadata schema on open     ``true``
``CTML_ACTOR``         who is acting, recorded in the audit log     the OS user name
=====================  ===========================================  =====================================

>>> s = Settings.from_env({"CTML_HOME": "/srv/ct"})
>>> s.meta_url, s.artifact_url
('sqlite:////srv/ct/meta.db', 'file:///srv/ct/artifacts')
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

from ctml.errors import ConfigError

__all__ = ["Settings"]

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _flag(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name} must be one of true/false/1/0/yes/no/on/off. Got {raw!r} instead.")


def _default_actor() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class Settings:
    """Where ctml keeps its state and who is acting."""

    home: Path
    meta_url: str
    artifact_url: str
    auto_migrate: bool = True
    actor: str = "unknown"

    @classmethod
    def local(cls, home: str | Path = ".ctml", actor: str | None = None) -> Settings:
        """Embedded defaults under ``home``: SQLite metadata and a local artifact folder."""
        root = Path(home).expanduser().absolute()
        return cls(
            home=root,
            meta_url=f"sqlite:///{root / 'meta.db'}",
            artifact_url=f"file://{root / 'artifacts'}",
            actor=actor or _default_actor(),
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, prefix: str = "CTML_") -> Settings:
        env = os.environ if environ is None else environ
        base = cls.local(env.get(f"{prefix}HOME", ".ctml"), env.get(f"{prefix}ACTOR"))
        auto = env.get(f"{prefix}AUTO_MIGRATE")
        return replace(
            base,
            meta_url=env.get(f"{prefix}META_URL", base.meta_url),
            artifact_url=env.get(f"{prefix}ARTIFACT_URL", base.artifact_url),
            auto_migrate=base.auto_migrate if auto is None else _flag(f"{prefix}AUTO_MIGRATE", auto),
        )
