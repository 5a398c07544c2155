"""The one error tree of ctml.

Every error ctml raises on purpose derives from :class:`CtmlError`; messages say what was wrong, what was
expected and how to fix it. User-code failures are wrapped at one boundary and keep their traceback.

    CtmlError
    ├── ConfigError (ValueError) ............ bad settings, URL, spec or argument value
    │   ├── UnknownBackendError ............. a URL scheme no backend is registered for
    │   ├── MissingExtraError (ImportError) . an optional dependency is not installed; names the pip command
    │   └── SchemaError ..................... input columns do not match a model's signature; names the column
    ├── NotFoundError (LookupError) ......... a run, model, version, alias or dataset that does not exist
    │   └── ArtifactNotFoundError ........... no artifact with that digest in the store
    ├── ConflictError ....................... a compare-and-set lost, or a name is already taken
    ├── BackendUnavailableError (OSError) ... a database or object store cannot be reached
    ├── SchemaVersionError .................. metadata written by a newer ctml, or not yet migrated
    ├── CorruptArtifactError ................ stored bytes do not match their digest (tampered or truncated)
    └── UntrustedModelError ................. a model payload needs types or a format ctml will not load blindly
"""

from __future__ import annotations

__all__ = [
    "ArtifactNotFoundError",
    "BackendUnavailableError",
    "ConfigError",
    "ConflictError",
    "CorruptArtifactError",
    "CtmlError",
    "MissingExtraError",
    "NotFoundError",
    "SchemaError",
    "SchemaVersionError",
    "UnknownBackendError",
    "UntrustedModelError",
]


class CtmlError(Exception):
    """Base class of every error ctml raises on purpose."""


class ConfigError(CtmlError, ValueError):
    """A setting, URL, spec or argument value is not acceptable."""


class UnknownBackendError(ConfigError):
    """A URL names a scheme that no backend is registered for."""

    def __init__(self, url: str, port: str, known: list[str]) -> None:
        scheme = url.split(":", 1)[0] if ":" in url else "(none)"
        super().__init__(
            f"Unknown {port} URL scheme {scheme!r} in {url!r}. "
            f"Expected one of: {', '.join(sorted(known))}, for example {known[0]}:///path."
        )
        self.url = url
        self.scheme = scheme


class MissingExtraError(CtmlError, ImportError):
    """An optional dependency is needed for what was asked, and it is not installed."""

    def __init__(self, extra: str, purpose: str, module: str) -> None:
        super().__init__(
            f"{purpose} needs the optional dependency {module!r}, which is not installed. "
            f"Install it with: pip install 'ctml[{extra}]'"
        )
        self.extra = extra
        self.module = module


class SchemaError(ConfigError):
    """Input data does not match what a model was trained on: a missing, extra or wrongly typed column."""

    def __init__(self, message: str, column: str | None = None) -> None:
        super().__init__(message)
        self.column = column


class NotFoundError(CtmlError, LookupError):
    """A run, model, version, alias or dataset does not exist."""


class ArtifactNotFoundError(NotFoundError):
    """No artifact with that digest is in the store."""


class ConflictError(CtmlError):
    """A compare-and-set lost against a concurrent writer, or a unique name is taken."""


class BackendUnavailableError(CtmlError, OSError):
    """A database or object store cannot be reached."""


class SchemaVersionError(CtmlError):
    """The metadata schema was written by a newer ctml, or needs a migration that is switched off."""


class CorruptArtifactError(CtmlError):
    """Stored bytes do not match their content digest; they are never deserialized."""

    def __init__(self, digest: str, actual: str, where: str) -> None:
        super().__init__(
            f"Artifact {digest} at {where} is corrupt: its content hashes to {actual}. "
            "It was tampered with or truncated and will not be read. "
            "Restore it from a backup or re-log it; nothing else in the store is affected."
        )
        self.digest = digest
        self.actual = actual


class UntrustedModelError(CtmlError):
    """A serialized model asks for types outside the allowlist, or for an unsafe format without a verified digest.

    Nothing has been executed when this is raised; the payload was inspected, not loaded.
    """
