"""Initial schema: mirrored entities with bookkeeping, child rows, sync state, change log, nomenclatures.

Revision ID: 0001
Revises:
Create Date: 2026-11-22

A frozen snapshot of ``rorsync/store/schema.py`` at version 0.1 (the test suite checks that the
upgraded database matches the live schema exactly).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.schema import SchemaItem

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEY = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIMESTAMP = sa.DateTime(timezone=True)
CAPACITY_IDENTITY = (
    "capacity_type",
    "status",
    "temporality",
    "gender",
    "closing_type",
    "additional_bed_type",
    "crisis_type",
    "temporary_assignment",
)


def _pk(table: str, name: str = "pk") -> list[SchemaItem]:
    return [
        sa.Column(name, KEY, autoincrement=True, nullable=False),
        sa.PrimaryKeyConstraint(name, name=f"pk_{table}"),
    ]


def _address() -> list[sa.Column[object]]:
    return [
        sa.Column("address_line", sa.Text()),
        sa.Column("postal_code", sa.String(16)),
        sa.Column("city", sa.Text()),
        sa.Column("commune_cog", sa.String(8)),
    ]


def _entity(table: str, columns: list[SchemaItem], indexes: Sequence[str]) -> None:
    op.create_table(
        table,
        *_pk(table),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("resource_id", sa.String(128), nullable=False),
        sa.Column("region", sa.String(8)),
        sa.Column("last_updated", TIMESTAMP, nullable=False),
        sa.Column("payload_hash", sa.BigInteger(), nullable=False),
        sa.Column("first_seen", TIMESTAMP, nullable=False),
        sa.Column("last_seen", TIMESTAMP, nullable=False),
        sa.Column("deleted_at", TIMESTAMP),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        *columns,
        sa.UniqueConstraint("source", "resource_id", name=f"uq_{table}_source_resource_id"),
    )
    for column in indexes:
        op.create_index(f"ix_{table}_{column}", table, [column])


def _location_child(table: str, columns: list[SchemaItem]) -> None:
    op.create_table(
        table,
        *_pk(table),
        sa.Column("location_pk", KEY, nullable=False),
        *columns,
        sa.ForeignKeyConstraint(
            ["location_pk"], ["location.pk"], name=f"fk_{table}_location_pk_location", ondelete="CASCADE"
        ),
    )
    op.create_index(f"ix_{table}_location_pk", table, ["location_pk"])


def _capacity_identity() -> list[SchemaItem]:
    return [sa.Column(name, sa.String(8), nullable=False) for name in CAPACITY_IDENTITY]


def _owned(table: str, columns: list[SchemaItem]) -> None:
    op.create_table(
        table,
        *_pk(table),
        sa.Column("owner_entity", sa.String(24), nullable=False),
        sa.Column("owner_pk", KEY, nullable=False),
        *columns,
    )
    op.create_index(f"ix_{table}_owner", table, ["owner_entity", "owner_pk"])


def upgrade() -> None:
    _entity(
        "organization",
        [
            sa.Column("kind", sa.String(2), nullable=False),
            sa.Column("parent_ref", sa.String(128)),
            sa.Column("name", sa.Text()),
            sa.Column("alias", sa.Text()),
            sa.Column("finess", sa.String(16)),
            sa.Column("siren", sa.String(16)),
            sa.Column("siret", sa.String(16)),
            sa.Column("id_nat_struct", sa.String(32)),
            sa.Column("oi_id", sa.String(64)),
            sa.Column("category_code", sa.String(16)),
            sa.Column("legal_status_code", sa.String(16)),
            sa.Column("oi_type_code", sa.String(8)),
            *_address(),
            sa.Column("opening_date", sa.Date()),
            sa.Column("closing_date", sa.Date()),
            sa.Column("closing_type_code", sa.String(16)),
            sa.Column("reopening_date", sa.Date()),
            sa.Column("drop_zone", sa.Boolean()),
            sa.Column("orsan_level_code", sa.String(8)),
            sa.Column("comment", sa.Text()),
        ],
        ("parent_ref", "finess", "id_nat_struct", "oi_id"),
    )
    _entity(
        "offer",
        [
            sa.Column("offer_identifier", sa.String(64)),
            sa.Column("name", sa.Text()),
            sa.Column("organization_ref", sa.String(128)),
            sa.Column("activity_field_code", sa.String(8)),
            sa.Column("category_code", sa.String(16)),
            sa.Column("care_mode_code", sa.String(16)),
            sa.Column("sensitive", sa.Boolean(), nullable=False),
            sa.Column("age_min", sa.Float()),
            sa.Column("age_max", sa.Float()),
            sa.Column("closed_from", TIMESTAMP),
            sa.Column("reopening_at", TIMESTAMP),
            sa.Column("closing_type_code", sa.String(8)),
            sa.Column("comment", sa.Text()),
        ],
        ("organization_ref", "offer_identifier"),
    )
    _entity(
        "location",
        [
            sa.Column("location_identifier", sa.String(64)),
            sa.Column("external_sync_id", sa.String(128)),
            sa.Column("name", sa.Text()),
            sa.Column("description", sa.Text()),
            sa.Column("function_code", sa.String(8)),
            sa.Column("operational_status", sa.String(4)),
            sa.Column("status", sa.String(16)),
            *_address(),
            sa.Column("latitude", sa.Float()),
            sa.Column("longitude", sa.Float()),
            sa.Column("managing_organization_ref", sa.String(128)),
            sa.Column("part_of_ref", sa.String(128)),
        ],
        ("location_identifier", "managing_organization_ref"),
    )
    _entity(
        "practitioner",
        [
            sa.Column("idnat_ps", sa.String(32)),
            sa.Column("family_name", sa.Text()),
            sa.Column("given_name", sa.Text()),
            sa.Column("prefix", sa.String(16)),
        ],
        ("idnat_ps",),
    )
    _entity(
        "practitioner_role",
        [
            sa.Column("situation_identifier", sa.String(64)),
            sa.Column("practitioner_ref", sa.String(128)),
            sa.Column("offer_ref", sa.String(128)),
            sa.Column("organization_ref", sa.String(128)),
            sa.Column("location_ref", sa.String(128)),
            sa.Column("profession_code", sa.String(16)),
            sa.Column("exercise_mode_code", sa.String(16)),
        ],
        ("practitioner_ref", "offer_ref"),
    )
    _owned(
        "entity_code",
        [
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("table_id", sa.String(16)),
            sa.Column("code", sa.String(64), nullable=False),
        ],
    )
    _owned(
        "contact",
        [
            sa.Column("contact_ord", sa.Integer()),
            sa.Column("contact_name", sa.Text()),
            sa.Column("purpose_code", sa.String(8)),
            sa.Column("function_code", sa.String(16)),
            sa.Column("description", sa.Text()),
            sa.Column("contact_confidentiality", sa.Integer()),
            sa.Column("channel_code", sa.String(8)),
            sa.Column("value", sa.Text()),
            sa.Column("usage_code", sa.String(16)),
            sa.Column("telecom_confidentiality", sa.Integer()),
        ],
    )
    _location_child(
        "capacity",
        [
            *_capacity_identity(),
            sa.Column("nb", sa.Integer(), nullable=False),
            sa.Column("source_type", sa.String(8)),
            sa.Column("updated_at", TIMESTAMP),
            sa.Column("comment", sa.Text()),
            sa.Column("observed_at", TIMESTAMP, nullable=False),
            sa.UniqueConstraint("location_pk", *CAPACITY_IDENTITY, name="uq_capacity_identity"),
        ],
    )
    op.create_table(
        "capacity_history",
        *_pk("capacity_history"),
        sa.Column("location_pk", KEY, nullable=False),
        *_capacity_identity(),
        sa.Column("nb", sa.Integer()),
        sa.Column("previous_nb", sa.Integer()),
        sa.Column("updated_at", TIMESTAMP),
        sa.Column("observed_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", KEY),
        sa.ForeignKeyConstraint(
            ["location_pk"], ["location.pk"], name="fk_capacity_history_location_pk_location", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_capacity_history_location", "capacity_history", ["location_pk", "observed_at"])
    _location_child(
        "equipment",
        [
            sa.Column("equipment_type_code", sa.String(16)),
            sa.Column("nb_in_service", sa.Integer()),
            sa.Column("limits", sa.Text()),
        ],
    )
    _location_child(
        "residential_capacity",
        [sa.Column("residential_type_code", sa.String(16)), sa.Column("number", sa.Integer())],
    )
    op.create_table(
        "offer_location",
        sa.Column("offer_pk", KEY, nullable=False),
        sa.Column("location_ref", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("offer_pk", "location_ref", name="pk_offer_location"),
        sa.ForeignKeyConstraint(
            ["offer_pk"], ["offer.pk"], name="fk_offer_location_offer_pk_offer", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_offer_location_location_ref", "offer_location", ["location_ref"])
    op.create_table(
        "sync_cursor",
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("stream", sa.String(64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("run_id", KEY),
        sa.PrimaryKeyConstraint("source", "stream", name="pk_sync_cursor"),
    )
    op.create_table(
        "sync_run",
        *_pk("sync_run", "id"),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("scope", sa.Text()),
        sa.Column("started_at", TIMESTAMP, nullable=False),
        sa.Column("ended_at", TIMESTAMP),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("counts", sa.Text()),
        sa.Column("error", sa.Text()),
    )
    op.create_index("ix_sync_run_source_started", "sync_run", ["source", "started_at"])
    op.create_table(
        "change_log",
        *_pk("change_log", "seq"),
        sa.Column("changed_at", TIMESTAMP, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(24), nullable=False),
        sa.Column("resource_id", sa.String(128), nullable=False),
        sa.Column("op", sa.String(16), nullable=False),
        sa.Column("run_id", KEY),
    )
    op.create_table(
        "quarantine",
        *_pk("quarantine"),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("entity", sa.String(24)),
        sa.Column("resource_id", sa.String(128)),
        sa.Column("received_at", TIMESTAMP, nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("payload", sa.LargeBinary()),
        sa.Column("run_id", KEY),
    )
    op.create_table(
        "nomenclature_table",
        sa.Column("table_id", sa.String(16), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("oid", sa.String(64)),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("loaded_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("table_id", name="pk_nomenclature_table"),
    )
    op.create_table(
        "nomenclature",
        sa.Column("table_id", sa.String(16), nullable=False),
        sa.Column("code", sa.String(64), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("valid_until", sa.String(16)),
        sa.PrimaryKeyConstraint("table_id", "code", name="pk_nomenclature"),
    )


def downgrade() -> None:
    for table in (
        "nomenclature",
        "nomenclature_table",
        "quarantine",
        "change_log",
        "sync_run",
        "sync_cursor",
        "offer_location",
        "residential_capacity",
        "equipment",
        "capacity_history",
        "capacity",
        "contact",
        "entity_code",
        "practitioner_role",
        "practitioner",
        "location",
        "offer",
        "organization",
    ):
        op.drop_table(table)
