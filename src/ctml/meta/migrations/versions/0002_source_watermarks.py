"""source watermarks

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 03:10:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "source_watermarks",
        sa.Column("source", sa.String(length=255), nullable=False),
        sa.Column("key", sa.String(length=1024), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("dataset_version_id", sa.String(length=32), nullable=True),
        sa.Column("updated_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("source", "key", name=op.f("pk_source_watermarks")),
    )


def downgrade() -> None:
    op.drop_table("source_watermarks")
