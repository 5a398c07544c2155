"""Model flavors (L1 port): fit, update, predict with, save and load each kind of model the same way.

One small protocol, :class:`ModelFlavor`, with five implementations chosen by the estimator's type:
scikit-learn (estimators and pipelines, saved with skops), LightGBM (native text model), XGBoost (native
UBJSON), River (online learners, pickle behind a verified digest) and PyTorch (:class:`TorchTabular`, a
``state_dict`` loaded with ``weights_only=True``). Libraries are imported only when a flavor is used, and a
missing one raises :class:`~ctml.errors.MissingExtraError` naming ``pip install 'ctml[...]'``. Every flavor
passes the conformance suite in :mod:`ctml.testing.flavors`.

>>> import numpy as np
>>> from sklearn.tree import DecisionTreeClassifier
>>> X = np.array([[0.0, 1.0], [1.0, 0.0], [0.1, 0.9], [0.9, 0.2]])
>>> model = fit_model(DecisionTreeClassifier(), X, np.array(["a", "b", "a", "b"]), feature_names=["u", "v"], seed=0)
>>> model.predict(X).tolist(), model.flavor.name
(['a', 'b', 'a', 'b'], 'sklearn')
>>> data = model.to_bytes()
>>> from ctml.hashing import sha256_bytes
>>> Model.from_bytes(data, digest=sha256_bytes(data)).predict_proba(X[:1]).tolist()
[[1.0, 0.0]]
"""

from ctml.flavors._base import CAPABILITIES, Checkpointer, FileCheckpointer, ModelFlavor
from ctml.flavors._fast import Predictor, predictor
from ctml.flavors._lightgbm import LightGBMFlavor
from ctml.flavors._model import Latency, Model, fit_model
from ctml.flavors._registry import flavor_for, get_flavor, register_flavor, registered_flavors
from ctml.flavors._river import RiverFlavor
from ctml.flavors._signature import Signature, Task
from ctml.flavors._sklearn import SklearnFlavor
from ctml.flavors._torch import TorchFlavor, TorchTabular
from ctml.flavors._xgboost import XGBoostFlavor

__all__ = [
    "CAPABILITIES",
    "Checkpointer",
    "FileCheckpointer",
    "Latency",
    "LightGBMFlavor",
    "Model",
    "ModelFlavor",
    "Predictor",
    "RiverFlavor",
    "Signature",
    "SklearnFlavor",
    "Task",
    "TorchFlavor",
    "TorchTabular",
    "XGBoostFlavor",
    "fit_model",
    "flavor_for",
    "get_flavor",
    "predictor",
    "register_flavor",
    "registered_flavors",
]
