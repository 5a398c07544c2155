"""step attempts unique per run; steps found by cache key

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 05:10:00.000000
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ux_steps_run_name_attempt", "steps", ["run_id", "name", "attempt"], unique=True)
    op.create_index("ix_steps_cache_key", "steps", ["cache_key"])


def downgrade() -> None:
    op.drop_index("ix_steps_cache_key", table_name="steps")
    op.drop_index("ux_steps_run_name_attempt", table_name="steps")
