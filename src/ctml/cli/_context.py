"""What every command shares: the settings, the workspace opened lazily, and one error boundary."""

from __future__ import annotations

from dataclasses import replace

import click

from ctml.config import Settings
from ctml.workspace import Workspace

__all__ = ["State", "make_state", "pass_state"]


class State:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._workspace: Workspace | None = None

    @property
    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = Workspace.open(self.settings)
        return self._workspace

    def close(self) -> None:
        if self._workspace is not None:
            self._workspace.close()


def make_state(home: str | None, meta_url: str | None, artifact_url: str | None) -> State:
    settings = Settings.from_env()
    if home is not None:
        local = Settings.local(home, settings.actor)
        settings = replace(settings, home=local.home, meta_url=local.meta_url, artifact_url=local.artifact_url)
    if meta_url is not None:
        settings = replace(settings, meta_url=meta_url)
    if artifact_url is not None:
        settings = replace(settings, artifact_url=artifact_url)
    return State(settings)


pass_state = click.make_pass_decorator(State)
