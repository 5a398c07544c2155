"""Command-line interface (L3)."""

from ctml.cli._main import cli, main

__all__ = ["cli", "main"]
