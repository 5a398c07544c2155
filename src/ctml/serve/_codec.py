"""Requests to numbers and answers to bytes: a JSON body checked against a model's signature and turned into a
float64 matrix, and the JSON an answer is sent (and logged) as.

Every way a body can be wrong ends in a :class:`BadRequest` whose message names the field (and the row of a
batch), never in a library's traceback: malformed JSON, ``NaN``/``Infinity`` (not JSON, but Python's parser
takes them), a value that is not a number, a missing or unknown feature, an empty or oversize batch.

JSON is read and written with orjson when it is installed (the ``serve`` extra brings it): on a 100-row
request it parses and encodes several times faster than the standard library, which was the largest share of
the predict path after the model itself. A body orjson refuses is read again by the standard library, which
decides, with its messages, whether it is JSON after all (UTF-16, numbers past float64's range) and what is
wrong. One difference is left, and it does not reach a model: orjson reads an integer past 64 bits as the
nearest float, the standard library as an exact ``int``; features become float64 either way.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from ctml.flavors import Signature

try:
    import orjson
except ImportError:  # pragma: no cover - the serve extra brings it; the standard library does the same, slower
    orjson = None  # type: ignore[assignment]

__all__ = ["BadRequest", "RowCodec", "dumps", "parse_json"]


class BadRequest(Exception):
    """A request the server answers with ``status`` and a message naming ``field``."""

    def __init__(self, status: int, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field

    def as_json(self) -> dict[str, Any]:
        return {"error": {"status": self.status, "message": self.message, "field": self.field}}


def _no_constants(name: str) -> Any:
    raise BadRequest(400, f"The body holds {name}, which is not a JSON number. Send finite numbers only.")


def parse_json(body: bytes) -> Any:
    """The JSON document in ``body``; ``NaN`` and ``Infinity`` are refused."""
    if not body:
        raise BadRequest(400, "The request body is empty; send a JSON object.")
    if orjson is not None:
        try:
            return orjson.loads(body)
        except orjson.JSONDecodeError:
            pass  # the standard library decides (and words the error): see the module's docstring
    try:
        return json.loads(body, parse_constant=_no_constants)
    except BadRequest:
        raise
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise BadRequest(400, f"The request body is not valid JSON: {exc}.") from None


def dumps(document: Any) -> bytes:
    """Compact UTF-8 JSON, as Starlette's ``JSONResponse`` writes it. Floats must be finite (orjson would write
    NaN as ``null``, the standard library refuses it): :meth:`LoadedModel.predict` checks a model's outputs.

    >>> dumps({"predictions": ["UP"], "probabilities": [[0.25, 0.75]], "model": "é"}).decode()
    '{"predictions":["UP"],"probabilities":[[0.25,0.75]],"model":"é"}'
    """
    if orjson is not None:
        data: bytes = orjson.dumps(document)
        return data
    return json.dumps(document, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode()


_NUMBERS = frozenset({int, float})


class RowCodec:
    """Turns ``{"feature": value, ...}`` or ``{"rows": [{...}, ...]}`` into the matrix a model predicts on.

    >>> from ctml.flavors import Signature
    >>> codec = RowCodec(Signature(("a", "b"), ("float64", "float64"), "regression"), max_rows=10)
    >>> rows, X = codec.rows(parse_json(b'{"rows": [{"b": 2, "a": 1.5}]}'))
    >>> X.tolist()
    [[1.5, 2.0]]
    >>> try:
    ...     codec.rows(parse_json(b'{"a": 1, "b": "x"}'))
    ... except BadRequest as error:
    ...     print(error.status, error.field, "|", error.message)
    422 b | The feature 'b' must be a number; got 'x' (str).
    """

    def __init__(self, signature: Signature, *, max_rows: int) -> None:
        self.signature = signature
        self.names: tuple[str, ...] = signature.feature_names
        self.max_rows = max_rows
        self._width = len(self.names)
        self._batch_key = "rows" not in self.names

    def rows(self, payload: Any) -> tuple[list[dict[str, Any]], np.ndarray]:
        """The rows of ``payload`` (one object, or ``{"rows": [...]}``) and their float64 matrix."""
        if not isinstance(payload, dict):
            raise BadRequest(
                422,
                f'The body must be a JSON object: one row ({{feature: number}}) or {{"rows": [...]}}. '
                f"Got {type(payload).__name__}.",
            )
        if self._batch_key and "rows" in payload:
            rows = payload["rows"]
            if len(payload) != 1:
                extra = sorted(k for k in payload if k != "rows")
                raise BadRequest(422, f'A batch is {{"rows": [...]}} alone; it also has {extra}.', extra[0])
            if not isinstance(rows, list):
                raise BadRequest(422, f"'rows' must be a list of objects; got {type(rows).__name__}.", "rows")
            if not rows:
                raise BadRequest(422, "'rows' is empty; send at least one row.", "rows")
            if len(rows) > self.max_rows:
                raise BadRequest(
                    413, f"The batch has {len(rows)} rows; this server takes at most {self.max_rows}.", "rows"
                )
        else:
            rows = [payload]
        return rows, self.matrix(rows)

    def matrix(self, rows: Sequence[Any]) -> np.ndarray:
        """The rows as a float64 matrix in training column order; any bad value is a :class:`BadRequest`.

        The common case (every row an object of exactly the features, every value a JSON number) is checked
        in bulk; only a request that fails it is walked row by row, to name the row and the field.
        """
        names, width = self.names, self._width
        try:
            flat = [row[name] for row in rows for name in names]
        except (KeyError, TypeError):
            flat = None
        if (
            flat is None
            or not set(map(type, flat)) <= _NUMBERS
            or any(type(row) is not dict or len(row) != width for row in rows)
        ):
            raise self._diagnose(rows)
        try:
            X = np.array(flat, dtype=np.float64).reshape(len(rows), width)
        except OverflowError:  # an integer beyond float64
            raise BadRequest(422, "A feature holds an integer too large for a float64.") from None
        if not np.isfinite(X).all():
            i, j = np.argwhere(~np.isfinite(X))[0]
            raise BadRequest(
                422, f"The feature {names[j]!r}{_where(int(i), len(rows))} is not a finite number.", names[j]
            )
        return X

    def _diagnose(self, rows: Sequence[Any]) -> BadRequest:
        """The first problem of a request that failed the bulk check, naming its row and field."""
        names, width = self.names, self._width
        for i, row in enumerate(rows):
            if type(row) is not dict:
                return BadRequest(422, f"Row {i} must be a JSON object; got {type(row).__name__}.", f"rows[{i}]")
            if any(name not in row for name in names):
                return self._missing(row, i, len(rows))
            if len(row) != width:
                return self._extra(row, i, len(rows))
            for name in names:
                value = row[name]
                if type(value) not in _NUMBERS:
                    return self._not_number(name, value, i, len(rows))
        return BadRequest(422, "The rows do not match the model's features.")  # pragma: no cover - unreachable

    def _missing(self, row: dict[str, Any], i: int, n: int) -> BadRequest:
        missing = [name for name in self.names if name not in row]
        return BadRequest(
            422,
            f"The feature{'s' if len(missing) > 1 else ''} {_quoted(missing)} {'are' if len(missing) > 1 else 'is'} "
            f"missing{_where(i, n)}. Expected the features {list(self.names)}.",
            missing[0],
        )

    def _extra(self, row: dict[str, Any], i: int, n: int) -> BadRequest:
        extra = sorted(str(k) for k in row if k not in self.names)
        return BadRequest(
            422,
            f"The feature{'s' if len(extra) > 1 else ''} {_quoted(extra)}{_where(i, n)} "
            f"{'are' if len(extra) > 1 else 'is'} not known to the model. Expected the features {list(self.names)}.",
            extra[0],
        )

    def _not_number(self, name: str, value: Any, i: int, n: int) -> BadRequest:
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        return BadRequest(
            422, f"The feature {name!r}{_where(i, n)} must be a number; got {shown} ({type(value).__name__}).", name
        )


def _where(i: int, n: int) -> str:
    return "" if n == 1 else f" in row {i}"


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)
