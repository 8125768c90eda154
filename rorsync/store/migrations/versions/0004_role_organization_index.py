"""An index on the organization of practitioner roles, for the CSD source's absence sweeps.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06

A full TR-Lecture of one establishment tombstones what its subtree no longer holds, roles included
(``rorsync.store.sweep.tombstone_unseen_below``); without this index, finding the roles of an
establishment's organizations scanned the whole table (87 ms of the 97 ms of one sweep at the
national scale). A frozen snapshot of ``rorsync/store/schema.py``.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_practitioner_role_organization_ref", "practitioner_role", ["organization_ref"])


def downgrade() -> None:
    op.drop_index("ix_practitioner_role_organization_ref", "practitioner_role")
