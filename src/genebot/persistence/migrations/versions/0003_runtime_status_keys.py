"""A running deployment's latest status (for the API and dashboard) and exchange API keys
stored encrypted at rest.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-07 05:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import genebot.persistence.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "runtime_status",
        sa.Column("deployment_id", sa.String(length=64), nullable=False),
        sa.Column(
            "updated_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["deployment_id"],
            ["deployments.id"],
            name=op.f("fk_runtime_status_deployment_id_deployments"),
        ),
        sa.PrimaryKeyConstraint("deployment_id", name=op.f("pk_runtime_status")),
    )
    op.create_table(
        "exchange_keys",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("exchange", sa.String(length=64), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=False),
        sa.Column("permissions", sa.String(length=200), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column(
            "created_at", genebot.persistence.types.UtcDateTime(timezone=True), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exchange_keys")),
        sa.UniqueConstraint("exchange", "label", name="exchange_label"),
    )


def downgrade() -> None:
    op.drop_table("exchange_keys")
    op.drop_table("runtime_status")
