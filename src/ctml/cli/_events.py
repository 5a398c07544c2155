"""``ctml events publish``: announce work to the controllers from outside (a data pipeline, a scheduler, a person)."""

from __future__ import annotations

import json

import click

__all__ = ["events"]


@click.group("events")
def events() -> None:
    """Events on the bus the controllers read ('new_data', 'retrain')."""


@events.command("publish")
@click.option("--bus", "bus_url", required=True, metavar="URL",
              help="The bus: redis://host:6379/0, nats://host:4222, sqlite:///path or postgresql://...")  # fmt: skip
@click.argument("topic")
@click.option("--app", required=True, help="The app the event is for.")
@click.option("--payload", default=None, metavar="JSON",
              help='A JSON object, e.g. \'{"reason": "upstream fix"}\' for retrain. Default: {}.')  # fmt: skip
@click.option("--id", "event_id", default=None,
              help="The event's id; publishing it again is deduplicated. Default: a new time-ordered id.")  # fmt: skip
def publish(bus_url: str, topic: str, app: str, payload: str | None, event_id: str | None) -> None:
    """Publish one event on TOPIC ('retrain' or 'new_data' for the controller) and print its id.

    A 'retrain' payload takes "reason" and "actor"; a 'new_data' payload is free-form (e.g. "source", "rows").
    """
    from ctml.bus import open_bus
    from ctml.errors import ConfigError
    from ctml.types import JSONObject

    example = """'{"reason": "upstream fix"}'"""
    body: JSONObject = {}
    if payload is not None:
        try:
            parsed = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--payload is not valid JSON ({exc}). Give an object, like {example}.") from None
        if not isinstance(parsed, dict):
            raise ConfigError(f"--payload must be a JSON object, like {example}. Got {payload!r}.")
        body = parsed
    bus = open_bus(bus_url)
    try:
        click.echo(bus.publish(topic, body, app=app, id=event_id))
    finally:
        bus.close()
