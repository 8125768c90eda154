"""Manual resync requests, the heartbeats of running rorsync processes, an index for capacity freshness.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-29

``rorsync resync`` reaches a running daemon through ``resync_request``; ``service_instance`` tells
it (and ``rorsync status``) whether a daemon is alive; ``ix_capacity_updated_at`` keeps the
freshness gauge cheap to read at every scrape. A frozen snapshot of ``rorsync/store/schema.py``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_index("ix_capacity_updated_at", "capacity", ["updated_at"])
    op.create_table(
        "resync_request",
        sa.Column("id", KEY, autoincrement=True, nullable=False),
        sa.Column("requested_at", TIMESTAMP, nullable=False),
        sa.Column("source", sa.String(16)),
        sa.Column("full", sa.Boolean(), nullable=False),
        sa.Column("organization", sa.String(128)),
        sa.Column("resource", sa.String(128)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("picked_by", sa.String(160)),
        sa.Column("picked_at", TIMESTAMP),
        sa.Column("done_at", TIMESTAMP),
        sa.Column("error", sa.Text()),
        sa.PrimaryKeyConstraint("id", name="pk_resync_request"),
    )
    op.create_index("ix_resync_request_status", "resync_request", ["status"])
    op.create_table(
        "service_instance",
        sa.Column("instance", sa.String(160), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("host", sa.String(128), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("version", sa.String(32), nullable=False),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("beat_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("instance", name="pk_service_instance"),
    )


def downgrade() -> None:
    op.drop_table("service_instance")
    op.drop_table("resync_request")
    op.drop_index("ix_capacity_updated_at", "capacity")
