"""PyTorch: :class:`TorchTabular`, a small multi-layer perceptron for tabular data that trains on the CPU.

Saved as a ``state_dict`` written by :func:`torch.save` and read back with ``torch.load(weights_only=True)``
(tensors only, no code), beside the architecture parameters as JSON.

Training is reproducible: initial weights are drawn under the fit's seed (inside ``torch.random.fork_rng``, so
the process's global generator is left as it was) and batches are shuffled by a private
:class:`torch.Generator`. A checkpoint after every epoch holds the weights, the optimizer's state and that
generator's state, so a resumed training makes exactly the updates an uninterrupted one makes. Bit-identical
results need the same number of intra-op threads in both runs (``torch.set_num_threads``).
"""

from __future__ import annotations

import copy
import io
from typing import Any

import numpy as np

from ctml.errors import ConfigError
from ctml.flavors._base import Checkpointer, pack, require, resume, save_progress, training_key, unpack
from ctml.flavors._signature import Signature, Task

__all__ = ["TorchFlavor", "TorchTabular"]


def _torch() -> Any:
    return require("torch", "torch", "The PyTorch flavor")


class TorchTabular:
    """A multi-layer perceptron for a float matrix: standardized inputs, ReLU hidden layers, one output head.

    Parameters are only stored here (scikit-learn's rule); :func:`ctml.flavors.fit_model` trains a copy and
    sets the learned state, whose names end in ``_``.

    >>> TorchTabular(hidden=(8,), epochs=2)
    TorchTabular(hidden=(8,), epochs=2, lr=0.001, batch_size=256, task='classification')
    """

    module_: Any
    n_features_in_: int
    n_outputs_: int

    def __init__(
        self,
        hidden: tuple[int, ...] = (64, 32),
        epochs: int = 20,
        lr: float = 1e-3,
        batch_size: int = 256,
        task: Task = "classification",
    ) -> None:
        self.hidden = hidden
        self.epochs = epochs
        self.lr = lr
        self.batch_size = batch_size
        self.task = task

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        return {
            "hidden": tuple(self.hidden),
            "epochs": self.epochs,
            "lr": self.lr,
            "batch_size": self.batch_size,
            "task": self.task,
        }

    def set_params(self, **params: Any) -> TorchTabular:
        for name, value in params.items():
            if name not in self.get_params():
                raise ConfigError(f"TorchTabular has no parameter {name!r}; it has {sorted(self.get_params())}.")
            setattr(self, name, value)
        return self

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"TorchTabular({inner})"

    def _validate(self) -> None:
        hidden = tuple(self.hidden)
        if not hidden or not all(isinstance(h, int) and h >= 1 for h in hidden):
            raise ConfigError(f"The 'hidden' parameter of TorchTabular must be a tuple of ints >= 1. Got {hidden!r}.")
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ConfigError(f"The {name!r} parameter of TorchTabular must be an int >= 1. Got {value!r}.")
        if not isinstance(self.lr, float | int) or not self.lr > 0:
            raise ConfigError(f"The 'lr' parameter of TorchTabular must be a float > 0. Got {self.lr!r}.")
        if self.task not in ("classification", "regression"):
            raise ConfigError(
                f"The 'task' parameter of TorchTabular must be 'classification' or 'regression'. Got {self.task!r}."
            )


def _network(torch: Any, n_features: int, hidden: tuple[int, ...], n_outputs: int) -> Any:
    nn = torch.nn
    layers: list[Any] = []
    width = n_features
    for size in hidden:
        layers += [nn.Linear(width, size), nn.ReLU()]
        width = size
    layers.append(nn.Linear(width, n_outputs))
    net = nn.Sequential(*layers)
    # Standardization lives in the state_dict, so a saved model carries it.
    net.register_buffer("x_mean", torch.zeros(n_features))
    net.register_buffer("x_scale", torch.ones(n_features))
    net.register_buffer("y_mean", torch.zeros(1))
    net.register_buffer("y_scale", torch.ones(1))
    return net


def _forward(net: Any, X: Any) -> Any:
    return net((X - net.x_mean) / net.x_scale)


class TorchFlavor:
    """:class:`TorchTabular` models: probabilities, warm start (fine-tuning), a checkpoint every epoch."""

    name = "torch"
    format = "torch-state-dict"
    capabilities = frozenset({"proba", "warm_start", "checkpoint"})
    requires = ("torch", "numpy")

    def __repr__(self) -> str:
        return "TorchFlavor()"

    def task_of(self, estimator: Any) -> Task:
        if not isinstance(estimator, TorchTabular):
            raise ConfigError(f"The PyTorch flavor fits ctml.flavors.TorchTabular. Got {type(estimator).__name__}.")
        estimator._validate()
        return estimator.task

    def fit(
        self,
        estimator: Any,
        X: np.ndarray,
        y: np.ndarray,
        signature: Signature,
        *,
        seed: int,
        init: Any = None,
        checkpoint: Checkpointer | None = None,
    ) -> Any:
        torch = _torch()
        self.task_of(estimator)
        model = TorchTabular(**estimator.get_params())
        classification = signature.task == "classification"
        n_outputs = len(signature.classes or ()) if classification else 1
        if init is not None:
            net = copy.deepcopy(init.module_)
        else:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                net = _network(torch, X.shape[1], tuple(model.hidden), n_outputs)
            mean = X.mean(axis=0)
            scale = X.std(axis=0)
            net.x_mean.copy_(torch.as_tensor(mean, dtype=torch.float32))
            net.x_scale.copy_(torch.as_tensor(np.where(scale > 0, scale, 1.0), dtype=torch.float32))
            if not classification:
                net.y_mean.fill_(float(y.mean()))
                net.y_scale.fill_(float(y.std()) or 1.0)
        optimizer = torch.optim.Adam(net.parameters(), lr=float(model.lr))
        generator = torch.Generator().manual_seed(seed)
        inputs = torch.as_tensor(X, dtype=torch.float32)
        if classification:
            targets = torch.as_tensor(y, dtype=torch.int64)
            loss_fn = torch.nn.CrossEntropyLoss()
        else:
            targets = ((torch.as_tensor(y, dtype=torch.float32) - net.y_mean) / net.y_scale).unsqueeze(1)
            loss_fn = torch.nn.MSELoss()

        start = None if init is None else self._state_bytes(torch, init.module_.state_dict())
        key = training_key(model.get_params(), seed, X, y, start)
        first = 0
        saved = resume(checkpoint, key)
        if saved is not None:
            first, saved_state = saved
            blob = torch.load(io.BytesIO(saved_state), weights_only=True)
            net.load_state_dict(blob["net"])
            optimizer.load_state_dict(blob["optimizer"])
            generator.set_state(blob["generator"])

        net.train()
        for epoch in range(first, model.epochs):
            order = torch.randperm(len(inputs), generator=generator)
            for batch in order.split(model.batch_size):
                optimizer.zero_grad()
                loss = loss_fn(_forward(net, inputs[batch]), targets[batch])
                loss.backward()
                optimizer.step()
            if checkpoint is not None:
                state = {
                    "net": net.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "generator": generator.get_state(),
                }
                save_progress(checkpoint, key, epoch + 1, self._state_bytes(torch, state))
        net.eval()
        model.module_ = net
        model.n_features_in_ = X.shape[1]
        model.n_outputs_ = n_outputs
        return model

    def partial_fit(self, fitted: Any, X: np.ndarray, y: np.ndarray, signature: Signature) -> Any:
        raise ConfigError("TorchTabular does not learn incrementally; use fit(init=model) to fine-tune instead.")

    def _outputs(self, fitted: Any, X: np.ndarray) -> Any:
        torch = _torch()
        with torch.no_grad():
            return _forward(fitted.module_, torch.as_tensor(X, dtype=torch.float32))

    def predict(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        out = self._outputs(fitted, X)
        if signature.task == "classification":
            return np.asarray(out.argmax(dim=1).numpy(), dtype=np.int64)
        net = fitted.module_
        return np.asarray((out[:, 0] * net.y_scale + net.y_mean).numpy(), dtype=np.float64)

    def predict_proba(self, fitted: Any, X: np.ndarray, signature: Signature) -> np.ndarray:
        proba = np.asarray(self._outputs(fitted, X).softmax(dim=1).numpy(), dtype=np.float64)
        return np.asarray(proba / proba.sum(axis=1, keepdims=True))

    def dumps(self, fitted: Any) -> bytes:
        torch = _torch()
        header = {
            "params": {**fitted.get_params(), "hidden": list(fitted.hidden)},
            "n_features_in_": fitted.n_features_in_,
            "n_outputs_": fitted.n_outputs_,
        }
        return pack(header, self._state_bytes(torch, fitted.module_.state_dict()))

    def loads(self, data: bytes) -> Any:
        torch = _torch()
        header, (state,) = unpack(data, 1)
        params = dict(header["params"])
        params["hidden"] = tuple(params["hidden"])
        model = TorchTabular(**params)
        net = _network(torch, int(header["n_features_in_"]), model.hidden, int(header["n_outputs_"]))
        net.load_state_dict(torch.load(io.BytesIO(state), weights_only=True))
        net.eval()
        model.module_ = net
        model.n_features_in_ = int(header["n_features_in_"])
        model.n_outputs_ = int(header["n_outputs_"])
        return model

    @staticmethod
    def _state_bytes(torch: Any, state: Any) -> bytes:
        buffer = io.BytesIO()
        torch.save(state, buffer)
        return buffer.getvalue()
