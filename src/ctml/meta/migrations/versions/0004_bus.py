"""event bus: consumer offsets and processed-event ids (placeholder until the bus lands)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22 05:05:00.000000
"""

from __future__ import annotations

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass


def downgrade() -> None:
    pass
