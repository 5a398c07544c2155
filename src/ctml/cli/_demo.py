"""``ctml demo``."""

from __future__ import annotations

import click

__all__ = ["demo"]


@click.command()
def demo() -> None:
    """Run the end-to-end demo on a real drifting stream."""
    raise click.ClickException("not yet")
