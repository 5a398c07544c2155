from .history import populated

__all__ = ["populated"]
