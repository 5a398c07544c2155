"""Model registry (L2 domain): versions with lineage and free-form aliases with history."""

from ctml.registry._registry import ModelRegistry

__all__ = ["ModelRegistry"]
