"""Public conformance suites: the checks every backend of a ctml port must pass."""
