"""``ctml bench``: reproducible benchmarks, each measured against a baseline in the same run."""

from __future__ import annotations

import click

__all__ = ["bench"]


@click.group()
def bench() -> None:
    """Benchmarks against the tools ctml replaces, measured in the same run."""
