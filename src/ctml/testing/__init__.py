"""Public conformance suites: the checks every backend of a ctml port must pass.

- :mod:`ctml.testing.meta` — metadata stores (:class:`~ctml.meta.MetaStore` on SQLite, PostgreSQL, ...)
- :mod:`ctml.testing.store` — artifact stores (:class:`~ctml.store.ArtifactStore`: local, S3, ...)
- :mod:`ctml.testing.executors` — executors (:class:`~ctml.exec.Executor`: inline, process pool, Ray)
- :mod:`ctml.testing.flavors` — model flavors (:class:`~ctml.flavors.ModelFlavor`: scikit-learn, LightGBM,
  XGBoost, River, PyTorch)
"""
