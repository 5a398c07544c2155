"""What a model was trained on: feature names and types, the task, and the classes it predicts.

A :class:`Signature` travels with every fitted model, inside its envelope, so a model loaded years later can
still tell a caller *which* column is missing instead of failing inside a library with a shape error.
Classification labels are stored as plain JSON values (sorted, as :func:`numpy.unique` sorts them); flavors
see them as integer codes ``0..k-1`` and :class:`~ctml.flavors.Model` maps codes back to labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from ctml.errors import ConfigError, SchemaError
from ctml.types import JSONObject

__all__ = ["Signature", "Task", "encode_labels"]

Task = Literal["classification", "regression"]
_TASKS = ("classification", "regression")


@dataclass(frozen=True)
class Signature:
    """Feature names and dtypes, task, and (for classifiers) the sorted class labels.

    >>> sig = Signature(("a", "b"), ("float64", "float64"), "classification", ("no", "yes"))
    >>> sig.check(np.array([[2.0, 1.0]]), ["b", "a"]).tolist()  # columns come back in training order
    [[1.0, 2.0]]
    >>> try:
    ...     sig.check(np.zeros((1, 2)), ["a", "c"])
    ... except SchemaError as error:
    ...     print(error.column, "|", error)  # doctest: +NORMALIZE_WHITESPACE
    b | X is missing the column 'b' that the model was trained with, and has the column 'c' it does not know.
        Expected the columns ['a', 'b'].
    """

    feature_names: tuple[str, ...]
    dtypes: tuple[str, ...]
    task: Task
    classes: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if self.task not in _TASKS:
            raise ConfigError(f"The task of a Signature must be 'classification' or 'regression'. Got {self.task!r}.")
        if len(self.dtypes) != len(self.feature_names):
            raise ConfigError(
                f"A Signature needs one dtype per feature: {len(self.feature_names)} names, {len(self.dtypes)} dtypes."
            )
        if len(set(self.feature_names)) != len(self.feature_names):
            duplicated = sorted({n for n in self.feature_names if self.feature_names.count(n) > 1})
            raise ConfigError(f"Feature names must be unique; {duplicated} appear more than once.")
        if (self.task == "classification") != (self.classes is not None):
            raise ConfigError("A classification Signature needs its classes, and a regression one has none.")

    @classmethod
    def infer(cls, X: np.ndarray, y: np.ndarray, feature_names: Sequence[str], task: Task) -> Signature:
        """The signature of training data ``X``, ``y`` for ``task``."""
        X = as_matrix(X)
        names = tuple(str(n) for n in feature_names)
        if X.shape[1] != len(names):
            raise SchemaError(f"X has {X.shape[1]} columns but {len(names)} feature names were given: {list(names)}.")
        classes = tuple(np.unique(np.asarray(y)).tolist()) if task == "classification" else None
        return cls(names, (str(X.dtype),) * len(names), task, classes)

    def check(self, X: Any, feature_names: Sequence[str] | None = None) -> np.ndarray:
        """``X`` as a float64 matrix in training column order, or a :class:`SchemaError` naming the column.

        Without ``feature_names`` the columns are taken to be in training order and only their count is checked.
        """
        array = np.asarray(X)
        if array.ndim != 2:
            raise SchemaError(
                f"X must be a 2-D array of shape (rows, {len(self.feature_names)}); got one of shape {array.shape}."
            )
        if feature_names is None:
            if array.shape[1] != len(self.feature_names):
                raise SchemaError(
                    f"X has {array.shape[1]} columns; the model was trained on {len(self.feature_names)}: "
                    f"{list(self.feature_names)}."
                )
        else:
            names = [str(n) for n in feature_names]
            if len(names) != array.shape[1]:
                raise SchemaError(f"X has {array.shape[1]} columns but {len(names)} feature names were given.")
            if names != list(self.feature_names):
                array = array[:, self._order(names)]
        if array.dtype.kind in "fiub":
            return np.ascontiguousarray(array, dtype=np.float64)
        return self._coerce(array)

    def _order(self, names: list[str]) -> list[int]:
        missing = [n for n in self.feature_names if n not in names]
        extra = [n for n in names if n not in self.feature_names]
        if missing or extra:
            parts = []
            if missing:
                parts.append(
                    f"is missing the column{'s' if len(missing) > 1 else ''} {_quoted(missing)} "
                    "that the model was trained with"
                )
            if extra:
                parts.append(f"has the column{'s' if len(extra) > 1 else ''} {_quoted(extra)} it does not know")
            raise SchemaError(
                f"X {', and '.join(parts)}. Expected the columns {list(self.feature_names)}.",
                column=(missing or extra)[0],
            )
        if len(set(names)) != len(names):
            raise SchemaError(f"The feature names {names} name a column more than once.")
        return [names.index(n) for n in self.feature_names]

    def _coerce(self, array: np.ndarray) -> np.ndarray:
        out = np.empty(array.shape, dtype=np.float64)
        for j, name in enumerate(self.feature_names):
            try:
                out[:, j] = array[:, j].astype(np.float64)
            except (TypeError, ValueError):
                bad = next(v for v in array[:, j] if not _is_number(v))
                raise SchemaError(
                    f"The column {name!r} must hold numbers ({self.dtypes[j]}); it holds {bad!r} "
                    f"({type(bad).__name__}). Encode it as a number before predicting.",
                    column=name,
                ) from None
        return out

    def to_json(self) -> JSONObject:
        return {
            "feature_names": list(self.feature_names),
            "dtypes": list(self.dtypes),
            "task": self.task,
            "classes": None if self.classes is None else list(self.classes),
        }

    @classmethod
    def from_json(cls, value: JSONObject) -> Signature:
        classes = value.get("classes")
        return cls(
            tuple(str(n) for n in _list(value["feature_names"])),
            tuple(str(d) for d in _list(value["dtypes"])),
            "classification" if value["task"] == "classification" else "regression",
            None if classes is None else tuple(_list(classes)),
        )


def encode_labels(signature: Signature, y: Any) -> np.ndarray:
    """Classification labels as codes ``0..k-1`` in the signature's class order; regression targets as float64.

    A label the signature does not know is a :class:`SchemaError` naming it.
    """
    values = np.asarray(y)
    if values.ndim != 1:
        raise SchemaError(f"y must be a 1-D array. Got an array of shape {values.shape}.")
    if signature.classes is None:
        try:
            return np.ascontiguousarray(values, dtype=np.float64)
        except (TypeError, ValueError):
            raise SchemaError("A regression target must hold numbers.") from None
    classes = np.asarray(signature.classes)
    codes: np.ndarray
    unknown: np.ndarray
    try:
        codes = np.clip(np.searchsorted(classes, values), 0, len(classes) - 1)
        unknown = np.asarray(classes[codes] != values, dtype=bool).reshape(values.shape)
    except TypeError:  # labels of a type that does not even compare with the classes
        codes = np.zeros(len(values), dtype=np.int64)
        unknown = np.ones(len(values), dtype=bool)
    if np.any(unknown):
        label = values[np.argmax(unknown)]
        raise SchemaError(
            f"The label {label!r} is not one of the classes the model knows: {list(signature.classes)}. "
            "Fit a new model (not a warm start or update) to learn a new class."
        )
    return codes.astype(np.int64)


def as_matrix(X: Any) -> np.ndarray:
    array = np.asarray(X)
    if array.ndim != 2:
        raise SchemaError(f"X must be a 2-D array of shape (rows, features). Got an array of shape {array.shape}.")
    return array


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


def _quoted(names: list[str]) -> str:
    return ", ".join(repr(n) for n in names)


def _list(value: Any) -> list[Any]:
    if not isinstance(value, list):
        raise ConfigError(f"A signature field must be a JSON list. Got {value!r}.")
    return value
