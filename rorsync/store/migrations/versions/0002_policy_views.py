"""Read model: per-profile policy views, their state table, region indexes, nomenclature versions.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The views are created from ``0002_policy_views.sql``, the SQL that ``scripts/freeze_views.py``
generated from ``rorsync/policy`` at default policy settings when this migration was written.
Embedding the SQL, rather than calling the live view builder, keeps this migration's meaning fixed
while ``rules.py`` and the catalog evolve: upgrading to 0002 always yields these exact views. The
live builder takes over right after, in ``rorsync db upgrade`` (``ensure_views``), which rebuilds
the views whenever the configured policy or the rules differ from what ``policy_state`` records;
the fingerprint recorded here is computed the same way, so an unchanged default policy is not
rebuilt. A later migration that alters a table the views read must drop them first (PostgreSQL
refuses to alter a column a view uses) and let ``ensure_views`` recreate them.

Downgrade drops every view ``policy_state`` knows of (a rebuild may have created more than this
file lists) and everything else created here.
"""

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FROZEN_SQL = Path(__file__).with_suffix(".sql")
DEFAULT_SETTINGS = {"feed_profile": 1, "p0_installed_capacity": False, "personal_data_profiles": None}
REGION_INDEXES = ("organization", "offer", "location")


def _frozen_views() -> list[tuple[str, str]]:
    """(name, query) pairs of the frozen file, in creation order."""
    parts = re.split(r"^-- view: (\S+)\n", FROZEN_SQL.read_text(encoding="utf-8"), flags=re.MULTILINE)
    return [(name, query.strip()) for name, query in zip(parts[1::2], parts[2::2], strict=True)]


def _create_statement(name: str, query: str, dialect: str) -> str:
    options = " WITH (security_barrier)" if dialect == "postgresql" else ""
    return f"CREATE VIEW {name}{options} AS\n{query}"


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("nomenclature_table") as batch:
        batch.add_column(sa.Column("version", sa.String(16)))
    for table in REGION_INDEXES:
        op.create_index(f"ix_{table}_region", table, ["region"])
    state = op.create_table(
        "policy_state",
        sa.Column("key", sa.String(32), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("settings", sa.Text(), nullable=False),
        sa.Column("views", sa.Text(), nullable=False),
        sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_policy_state"),
    )
    views = _frozen_views()
    statements = [_create_statement(name, query, bind.dialect.name) for name, query in views]
    for statement in statements:
        bind.exec_driver_sql(statement)
    op.execute(
        state.insert().values(
            key="views",
            fingerprint=hashlib.sha256("\n;\n".join(statements).encode()).hexdigest(),
            settings=json.dumps(DEFAULT_SETTINGS),
            views=json.dumps([name for name, _ in views]),
            built_at=sa.func.current_timestamp(),
        )
    )


def downgrade() -> None:
    bind = op.get_bind()
    recorded = bind.exec_driver_sql("SELECT views FROM policy_state").scalars().all()
    names = {name for name, _ in _frozen_views()} | {name for views in recorded for name in json.loads(views)}
    for name in sorted(names):
        bind.exec_driver_sql(f"DROP VIEW IF EXISTS {name}")
    op.drop_table("policy_state")
    for table in REGION_INDEXES:
        op.drop_index(f"ix_{table}_region", table)
    with op.batch_alter_table("nomenclature_table") as batch:
        batch.drop_column("version")
