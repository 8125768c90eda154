"""The mirror's tables (SQLAlchemy Core), identical on SQLite and PostgreSQL.

Design choices, with the numbers behind them in ``docs/architecture.md``:

* Entity tables are rowid tables with a surrogate integer key and a UNIQUE logical key
  ``(source, resource_id)``: on SQLite this layout upserts 1.2 KB rows about 7× faster than a
  ``WITHOUT ROWID`` table keyed by the text id.
* References between top-level objects (``*_ref`` columns) are soft: they hold the referenced
  object's ``resource_id`` in the same source, because an export or a delta delivers resource types
  in any order. Only child rows have foreign keys, to the object that owns them.
* Every entity row keeps its raw payload and the bookkeeping the sync needs: server version
  (``last_updated`` + ``payload_hash``), ``first_seen`` / ``last_seen`` (mark-and-sweep) and a
  ``deleted_at`` tombstone. Closures are ordinary data columns, never tombstones.
* This module is the live description of the schema; the Alembic migrations under
  ``rorsync/store/migrations`` are frozen snapshots of it, checked against it by the test suite.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from rorsync.model import CAPACITY_IDENTITY, Entity

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# INTEGER PRIMARY KEY is the rowid alias on SQLite; BIGINT identity elsewhere.
Key = BigInteger().with_variant(Integer(), "sqlite")


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value!r}: rorsync stores instants, convert to UTC first")
    return value.astimezone(dt.UTC)


class UtcTimestamp(TypeDecorator[dt.datetime]):
    """An instant, always handed back as an aware UTC datetime.

    PostgreSQL stores ``timestamptz``; SQLite stores UTC ISO text without an offset. Normalising
    here means Python code can compare times from either backend without caring which it is.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        value = _utc(value)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[dt.datetime | None], Any] | None:
        """On SQLite, the text SQLAlchemy's DATETIME would write, in one step.

        A national load binds millions of instants; composing ``process_bind_param`` with DATETIME's
        ``%``-formatting costs twice as much as ``isoformat``, which writes the same text
        (``YYYY-MM-DD HH:MM:SS.ffffff``, asserted against SQLAlchemy's own in the tests).
        """
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        def sqlite_text(value: dt.datetime | None) -> str | None:
            if value is None:
                return None
            return _utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")

        return sqlite_text

    def process_result_value(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


Timestamp = UtcTimestamp()


def _pk() -> Column[int]:
    return Column("pk", Key, primary_key=True, autoincrement=True)


def _bookkeeping() -> list[Column[object]]:
    return [
        Column("source", String(16), nullable=False),
        Column("resource_id", String(128), nullable=False),
        Column("region", String(8)),
        Column("last_updated", Timestamp, nullable=False),
        Column("payload_hash", BigInteger, nullable=False),
        Column("first_seen", Timestamp, nullable=False),
        Column("last_seen", Timestamp, nullable=False),
        Column("deleted_at", Timestamp),
        Column("payload", LargeBinary, nullable=False),
    ]


def _entity_table(entity: Entity, *columns: Column[object], indexes: tuple[str, ...] = ()) -> Table:
    table = Table(
        entity.value,
        metadata,
        _pk(),
        *_bookkeeping(),
        *columns,
        UniqueConstraint("source", "resource_id"),
    )
    for column in indexes:
        Index(f"ix_{entity.value}_{column}", table.c[column])
    return table


def _address() -> list[Column[object]]:
    return [
        Column("address_line", Text),
        Column("postal_code", String(16)),
        Column("city", Text),
        Column("commune_cog", String(8)),
    ]


organization = _entity_table(
    Entity.ORGANIZATION,
    Column("kind", String(2), nullable=False),
    Column("parent_ref", String(128)),
    Column("name", Text),
    Column("alias", Text),
    Column("finess", String(16)),
    Column("siren", String(16)),
    Column("siret", String(16)),
    Column("id_nat_struct", String(32)),
    Column("oi_id", String(64)),
    Column("category_code", String(16)),
    Column("legal_status_code", String(16)),
    Column("oi_type_code", String(8)),
    *_address(),
    Column("opening_date", Date),
    Column("closing_date", Date),
    Column("closing_type_code", String(16)),
    Column("reopening_date", Date),
    Column("drop_zone", Boolean),
    Column("orsan_level_code", String(8)),
    Column("comment", Text),
    indexes=("parent_ref", "finess", "id_nat_struct", "oi_id", "region"),
)

offer = _entity_table(
    Entity.OFFER,
    Column("offer_identifier", String(64)),
    Column("name", Text),
    Column("organization_ref", String(128)),
    Column("activity_field_code", String(8)),
    Column("category_code", String(16)),
    Column("care_mode_code", String(16)),
    Column("sensitive", Boolean, nullable=False),
    Column("age_min", Float),
    Column("age_max", Float),
    Column("closed_from", Timestamp),
    Column("reopening_at", Timestamp),
    Column("closing_type_code", String(8)),
    Column("comment", Text),
    indexes=("organization_ref", "offer_identifier", "region"),
)

location = _entity_table(
    Entity.LOCATION,
    Column("location_identifier", String(64)),
    Column("external_sync_id", String(128)),
    Column("name", Text),
    Column("description", Text),
    Column("function_code", String(8)),
    Column("operational_status", String(4)),
    Column("status", String(16)),
    *_address(),
    Column("latitude", Float),
    Column("longitude", Float),
    Column("managing_organization_ref", String(128)),
    Column("part_of_ref", String(128)),
    indexes=("location_identifier", "managing_organization_ref", "region"),
)

practitioner = _entity_table(
    Entity.PRACTITIONER,
    Column("idnat_ps", String(32)),
    Column("family_name", Text),
    Column("given_name", Text),
    Column("prefix", String(16)),
    indexes=("idnat_ps",),
)

practitioner_role = _entity_table(
    Entity.PRACTITIONER_ROLE,
    Column("situation_identifier", String(64)),
    Column("practitioner_ref", String(128)),
    Column("offer_ref", String(128)),
    Column("organization_ref", String(128)),
    Column("location_ref", String(128)),
    Column("profession_code", String(16)),
    Column("exercise_mode_code", String(16)),
    indexes=("practitioner_ref", "offer_ref", "organization_ref"),
)

ENTITY_TABLES: dict[Entity, Table] = {
    Entity.ORGANIZATION: organization,
    Entity.OFFER: offer,
    Entity.LOCATION: location,
    Entity.PRACTITIONER: practitioner,
    Entity.PRACTITIONER_ROLE: practitioner_role,
}

# --- child rows, replaced as a set whenever their owner's new version is written -----------------

entity_code = Table(
    "entity_code",
    metadata,
    _pk(),
    Column("owner_entity", String(24), nullable=False),
    Column("owner_pk", Key, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("table_id", String(16)),
    Column("code", String(64), nullable=False),
    Index("ix_entity_code_owner", "owner_entity", "owner_pk"),
)

contact = Table(
    "contact",
    metadata,
    _pk(),
    Column("owner_entity", String(24), nullable=False),
    Column("owner_pk", Key, nullable=False),
    Column("contact_ord", Integer),
    Column("contact_name", Text),
    Column("purpose_code", String(8)),
    Column("function_code", String(16)),
    Column("description", Text),
    Column("contact_confidentiality", Integer),
    Column("channel_code", String(8)),
    Column("value", Text),
    Column("usage_code", String(16)),
    Column("telecom_confidentiality", Integer),
    Index("ix_contact_owner", "owner_entity", "owner_pk"),
)


def _location_child(name: str, *columns: Column[object] | UniqueConstraint) -> Table:
    return Table(
        name,
        metadata,
        _pk(),
        Column("location_pk", Key, ForeignKey("location.pk", ondelete="CASCADE"), nullable=False, index=True),
        *columns,
    )


def _capacity_identity() -> list[Column[object]]:
    return [Column(name, String(8), nullable=False) for name in CAPACITY_IDENTITY]


capacity = _location_child(
    "capacity",
    *_capacity_identity(),
    Column("nb", Integer, nullable=False),
    Column("source_type", String(8)),
    Column("updated_at", Timestamp),
    Column("comment", Text),
    Column("observed_at", Timestamp, nullable=False),
    UniqueConstraint("location_pk", *CAPACITY_IDENTITY, name="uq_capacity_identity"),
)
# The service's capacity-freshness gauge reads the newest value per source from this index.
Index("ix_capacity_updated_at", capacity.c.updated_at)

capacity_history = Table(
    "capacity_history",
    metadata,
    _pk(),
    Column("location_pk", Key, ForeignKey("location.pk", ondelete="CASCADE"), nullable=False),
    *_capacity_identity(),
    Column("nb", Integer),  # NULL: the indicator was removed
    Column("previous_nb", Integer),  # NULL: the indicator appeared
    Column("updated_at", Timestamp),
    Column("observed_at", Timestamp, nullable=False),
    Column("run_id", Key),
    Index("ix_capacity_history_location", "location_pk", "observed_at"),
)

equipment = _location_child(
    "equipment",
    Column("equipment_type_code", String(16)),
    Column("nb_in_service", Integer),
    Column("limits", Text),
)

residential_capacity = _location_child(
    "residential_capacity",
    Column("residential_type_code", String(16)),
    Column("number", Integer),
)

offer_location = Table(
    "offer_location",
    metadata,
    Column("offer_pk", Key, ForeignKey("offer.pk", ondelete="CASCADE"), primary_key=True),
    Column("location_ref", String(128), primary_key=True),
    Index("ix_offer_location_location_ref", "location_ref"),
)

# --- sync state -----------------------------------------------------------------------------------

sync_cursor = Table(
    "sync_cursor",
    metadata,
    Column("source", String(16), primary_key=True),
    Column("stream", String(64), primary_key=True),
    Column("value", Text, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("run_id", Key),
)

sync_run = Table(
    "sync_run",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("source", String(16), nullable=False),
    Column("kind", String(24), nullable=False),  # full, delta, capacity, reconcile, resync, import
    Column("scope", Text),
    Column("started_at", Timestamp, nullable=False),
    Column("ended_at", Timestamp),
    Column("status", String(16), nullable=False),  # running, ok, failed, partial, interrupted
    Column("counts", Text),  # JSON object
    Column("error", Text),
    Index("ix_sync_run_source_started", "source", "started_at"),
)

change_log = Table(
    "change_log",
    metadata,
    Column("seq", Key, primary_key=True, autoincrement=True),
    Column("changed_at", Timestamp, nullable=False),
    Column("source", String(16), nullable=False),
    Column("entity", String(24), nullable=False),
    Column("resource_id", String(128), nullable=False),
    Column("op", String(16), nullable=False),  # insert, update, tombstone, purge
    Column("run_id", Key),
)

quarantine = Table(
    "quarantine",
    metadata,
    _pk(),
    Column("source", String(16), nullable=False),
    Column("entity", String(24)),
    Column("resource_id", String(128)),
    Column("received_at", Timestamp, nullable=False),
    Column("error", Text, nullable=False),
    Column("payload", LargeBinary),
    Column("run_id", Key),
)

# --- nomenclatures (labels for the codes) ---------------------------------------------------------

nomenclature_table = Table(
    "nomenclature_table",
    metadata,
    Column("table_id", String(16), primary_key=True),
    Column("name", Text, nullable=False),
    Column("oid", String(64)),
    Column("origin", Text, nullable=False),  # "packaged:<bundle>" or the imported file name
    Column("loaded_at", Timestamp, nullable=False),
    Column("version", String(16)),  # the table's "Date MàJ" (YYYYMMDDhhmmss); packaged: the bundle date
)

nomenclature = Table(
    "nomenclature",
    metadata,
    Column("table_id", String(16), primary_key=True),
    Column("code", String(64), primary_key=True),
    Column("label", Text, nullable=False),
    Column("valid_until", String(16)),
)

# --- read model ------------------------------------------------------------------------------------

policy_state = Table(
    "policy_state",
    metadata,
    Column("key", String(32), primary_key=True),  # "views"
    Column("fingerprint", String(64), nullable=False),  # SHA-256 of the DDL of the per-profile views
    Column("settings", Text, nullable=False),  # JSON: the policy settings the views were built with
    Column("views", Text, nullable=False),  # JSON list of the view names, so a rebuild drops them all
    Column("built_at", Timestamp, nullable=False),
)

# --- the service: manual resync requests and the daemons' heartbeats ------------------------------

resync_request = Table(
    "resync_request",
    metadata,
    Column("id", Key, primary_key=True, autoincrement=True),
    Column("requested_at", Timestamp, nullable=False),
    Column("source", String(16)),  # NULL: every enabled source
    Column("full", Boolean, nullable=False),
    Column("organization", String(128)),
    Column("resource", String(128)),
    Column("status", String(16), nullable=False),  # pending, running, ok, partial, failed, interrupted
    Column("picked_by", String(160)),  # the instance (daemon or foreground command) running it
    Column("picked_at", Timestamp),
    Column("done_at", Timestamp),
    Column("error", Text),
    Index("ix_resync_request_status", "status"),
)

service_instance = Table(
    "service_instance",
    metadata,
    Column("instance", String(160), primary_key=True),  # role:host:pid
    Column("role", String(16), nullable=False),  # daemon, foreground
    Column("host", String(128), nullable=False),
    Column("pid", Integer, nullable=False),
    Column("version", String(32), nullable=False),
    Column("started_at", Timestamp, nullable=False),
    Column("beat_at", Timestamp, nullable=False),
)
