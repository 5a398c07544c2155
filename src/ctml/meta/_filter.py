"""A small filter language for run searches, compiled to SQL.

    metrics.accuracy > 0.9 and params.model = 'lgbm' and tags.team != 'x' and status = 'finished'

Clauses are joined by ``and``. Fields: ``metrics.KEY`` (numeric, on the latest value), ``params.KEY`` and
``tags.KEY`` (text), and the run columns ``status``, ``name``, ``kind``, ``app``, ``actor``. Keys with spaces or
dots go in backquotes: ``metrics.`val loss` < 0.3``. Operators: ``= != < <= > >=`` and ``like`` for text.

>>> [c.field for c in parse_filter("metrics.acc >= 0.5 AND params.`max depth` = '3'")]
['metrics.acc', 'params.max depth']
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, select

from ctml.errors import ConfigError
from ctml.meta._schema import latest_metrics, params, runs, tags

__all__ = ["Clause", "compile_filter", "parse_filter"]

_COLUMNS = ("status", "name", "kind", "app", "actor")
_TOKEN = re.compile(
    r"""\s*(?:
        (?P<field>(?:metrics|params|tags)\.(?:`[^`]+`|[A-Za-z0-9_\-/:]+)|status|name|kind|app|actor)
        \s*(?P<op>!=|<=|>=|=|<|>|\blike\b)\s*
        (?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    )\s*""",
    re.VERBOSE | re.IGNORECASE,
)
# An "and" joins clauses only outside quotes and backquotes: the rest of the text must be balanced after it.
_AND = re.compile(r"""\s+and\s+(?=(?:[^'"`\\]|\\.|'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|`[^`]*`)*$)""", re.IGNORECASE)


@dataclass(frozen=True)
class Clause:
    field: str
    op: str
    value: str | float


def _bad(text: str, clause: str) -> ConfigError:
    return ConfigError(
        f"Cannot read the filter clause {clause!r} in {text!r}. Expected FIELD OP VALUE joined by 'and', "
        "where FIELD is metrics.KEY, params.KEY, tags.KEY, status, name, kind, app or actor; OP is one of "
        "= != < <= > >= like; VALUE is a number or a quoted string. Example: metrics.acc > 0.9 and status = 'finished'"
    )


def parse_filter(text: str) -> list[Clause]:
    clauses: list[Clause] = []
    if not text.strip():
        return clauses
    for part in _AND.split(text.strip()):
        match = _TOKEN.fullmatch(part)
        if match is None:
            raise _bad(text, part)
        field = match["field"]
        prefix, _, key = field.partition(".")
        if key.startswith("`"):
            key = key[1:-1]
        field = f"{prefix.lower()}.{key}" if key else prefix.lower()
        raw = match["value"]
        value: str | float = re.sub(r"\\(.)", r"\1", raw[1:-1]) if raw[0] in "'\"" else float(raw)
        op = match["op"].lower()
        if field.startswith("metrics.") and (isinstance(value, str) or op == "like"):
            raise ConfigError(f"{field} is numeric: compare it with a number, not {raw} (in {text!r}).")
        if not field.startswith("metrics.") and isinstance(value, float) and op not in ("=", "!="):
            raise ConfigError(f"{field} is text: only = != and like apply to it (in {text!r}).")
        clauses.append(Clause(field, op, value))
    return clauses


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "like":
        return column.like(value)  # type: ignore[no-any-return]
    ops = {
        "=": column.__eq__,
        "!=": column.__ne__,
        "<": column.__lt__,
        "<=": column.__le__,
        ">": column.__gt__,
        ">=": column.__ge__,
    }
    return ops[op](value)  # type: ignore[no-any-return]


def compile_filter(clauses: list[Clause]) -> list[ColumnElement[bool]]:
    """One SQL condition on ``runs`` per clause."""
    conditions: list[ColumnElement[bool]] = []
    for clause in clauses:
        kind, _, key = clause.field.partition(".")
        if kind == "metrics":
            sub = select(latest_metrics.c.run_id).where(
                latest_metrics.c.key == key, _compare(latest_metrics.c.value, clause.op, clause.value)
            )
            conditions.append(runs.c.id.in_(sub))
        elif kind == "params":
            value = clause.value if isinstance(clause.value, str) else _number_text(clause.value)
            conditions.append(
                exists().where(
                    params.c.run_id == runs.c.id, params.c.key == key, _compare(params.c.value, clause.op, value)
                )
            )
        elif kind == "tags":
            value = clause.value if isinstance(clause.value, str) else _number_text(clause.value)
            conditions.append(
                exists().where(
                    tags.c.entity_kind == "run",
                    tags.c.entity_id == runs.c.id,
                    tags.c.key == key,
                    _compare(tags.c.value, clause.op, value),
                )
            )
        else:
            conditions.append(_compare(runs.c[kind], clause.op, str(clause.value)))
    return [and_(*conditions)] if conditions else []


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)
