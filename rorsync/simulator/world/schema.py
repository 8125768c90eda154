"""The world's SQLite schema: resource bodies with their index columns.

``resource`` holds one row per visible resource (compact FHIR JSON in ``body``); ``token``, ``link`` and
``capacity`` hold the search columns keyed by the resource's ``pk``; ``pending`` holds late commits
not yet visible; ``change_log`` is the world's own journal (what changed, deleted, when, visible when);
``meta`` holds the generation parameters and the identifier sequences.
"""

from __future__ import annotations

SCHEMA_VERSION = "1"

TABLES = """
CREATE TABLE IF NOT EXISTS resource (
    pk INTEGER PRIMARY KEY,
    rtype TEXT NOT NULL,
    id TEXT NOT NULL,
    region TEXT,
    eg TEXT,
    last_updated INTEGER NOT NULL,
    committed_at INTEGER NOT NULL,
    sensitive INTEGER NOT NULL DEFAULT 0,
    medico_social INTEGER NOT NULL DEFAULT 0,
    body BLOB NOT NULL,
    UNIQUE (rtype, id)
);
CREATE TABLE IF NOT EXISTS token (
    pk INTEGER NOT NULL,
    param TEXT NOT NULL,
    system TEXT NOT NULL,
    code TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS link (
    pk INTEGER NOT NULL,
    param TEXT NOT NULL,
    dst_type TEXT NOT NULL,
    dst_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS capacity (
    pk INTEGER NOT NULL,
    status TEXT NOT NULL,
    nb INTEGER NOT NULL,
    updated INTEGER,
    element_class TEXT NOT NULL,
    temporary_assignment TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS pending (
    seq INTEGER PRIMARY KEY,
    visible_at INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS change_log (
    seq INTEGER PRIMARY KEY,
    change_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    action TEXT NOT NULL,
    rtype TEXT NOT NULL,
    id TEXT NOT NULL,
    eg TEXT,
    made_at INTEGER NOT NULL,
    visible_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# Secondary indexes, created after a bulk load (faster than maintaining them row by row).
INDEXES = """
CREATE INDEX IF NOT EXISTS resource_updated ON resource (rtype, last_updated, eg);
CREATE INDEX IF NOT EXISTS resource_region ON resource (rtype, region);
CREATE INDEX IF NOT EXISTS resource_eg ON resource (eg);
CREATE INDEX IF NOT EXISTS resource_committed ON resource (committed_at);
CREATE INDEX IF NOT EXISTS token_pk ON token (pk);
CREATE INDEX IF NOT EXISTS token_code ON token (param, code);
CREATE INDEX IF NOT EXISTS link_pk ON link (pk);
CREATE INDEX IF NOT EXISTS link_dst ON link (dst_type, dst_id, param);
CREATE INDEX IF NOT EXISTS capacity_pk ON capacity (pk);
CREATE INDEX IF NOT EXISTS pending_visible ON pending (visible_at);
CREATE INDEX IF NOT EXISTS change_log_visible ON change_log (visible_at);
CREATE INDEX IF NOT EXISTS change_log_change ON change_log (change_id);
"""
DDL = TABLES + INDEXES
