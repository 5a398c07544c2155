"""event bus: consumer deliveries and offsets, processed-event ids, events by kind and sequence

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:05:00.000000

The tables belong to ``ctml.bus`` (``bus/_tables.py``), which reads them with its own engine; they are
written out here, not imported, so this migration stays what it was when it shipped.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_index("ix_events_kind_seq", "events", ["kind", "seq"])
    op.create_table(
        "bus_deliveries",
        sa.Column("consumer_group", sa.String(length=64), nullable=False),
        sa.Column("seq", _SEQ, nullable=False, autoincrement=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("holder", sa.String(length=32), nullable=False),
        sa.Column("lease_until_ms", sa.BigInteger(), nullable=False),
        sa.Column("acked", sa.Boolean(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "seq"),
    )
    op.create_index("ix_bus_deliveries_group_event", "bus_deliveries", ["consumer_group", "event_id"])
    op.create_table(
        "bus_offsets",
        sa.Column("consumer_group", sa.String(length=64), nullable=False),
        sa.Column("topic", sa.String(length=64), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "topic"),
    )
    op.create_table(
        "bus_processed",
        sa.Column("consumer_group", sa.String(length=64), nullable=False),
        sa.Column("event_id", sa.String(length=255), nullable=False),
        sa.Column("processed_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("consumer_group", "event_id"),
    )


def downgrade() -> None:
    op.drop_table("bus_processed")
    op.drop_table("bus_offsets")
    op.drop_index("ix_bus_deliveries_group_event", table_name="bus_deliveries")
    op.drop_table("bus_deliveries")
    op.drop_index("ix_events_kind_seq", table_name="events")
