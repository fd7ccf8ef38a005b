"""The Hall of Fame of evolved strategies (``genebot evolve``, ``genebot halloffame``).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 09:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import genebot.persistence.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "hall_of_fame",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column(
            "created_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("strategy", sa.String(length=100), nullable=False),
        sa.Column("rules", sa.Text(), nullable=False),
        sa.Column("parameters", sa.Text(), nullable=False),
        sa.Column("in_sample", sa.Text(), nullable=False),
        sa.Column("walk_forward", sa.Text(), nullable=False),
        sa.Column("held_out", sa.Text(), nullable=False),
        sa.Column("deflated_sharpe", sa.Float(), nullable=True),
        sa.Column("candidates", sa.Integer(), nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("periods", sa.Text(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hall_of_fame")),
    )


def downgrade() -> None:
    op.drop_table("hall_of_fame")
