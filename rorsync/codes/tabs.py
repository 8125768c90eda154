"""Parser for the public NOS nomenclature files (``.tabs``).

The ANS publishes each nomenclature as a ``;``-separated text file: a description of the file (OID,
kind, name, description, URL, dates) under its own column header, then the column header of the
codes, then the codes.
Files come in cp1252 or UTF-8 depending on their age, so both are accepted. Association files
(``ASS_*``) have a different column header and are returned as plain pairs.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import PurePath


class NosFormatError(ValueError):
    """A NOS file that does not follow the published layout; the message names file and line."""


@dataclass(frozen=True, slots=True)
class NosCode:
    code: str
    label: str
    valid_until: str | None  # "YYYYMMDD…" as published, None while the code is current


@dataclass(slots=True)
class NosTable:
    """One nomenclature: ``table_id`` is the short id (``TRE_R227``), ``name`` the file stem."""

    table_id: str
    name: str
    kind: str
    oid: str
    description: str
    codes: list[NosCode] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)
    updated: str | None = None  # "Date MàJ" of the description line (YYYYMMDDhhmmss), the table's version


def decode(data: bytes) -> str:
    """NOS files are cp1252 (older) or UTF-8 (newer); UTF-8 is tried first because it fails loudly."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("cp1252")


def table_id_of(name: str) -> str:
    """``TRE_R227-ChampActivite`` → ``TRE_R227`` (``JDV_J38_ModeAcces-CISIS`` → ``JDV_J38``)."""
    head = name.split("-", 1)[0]
    parts = head.split("_")
    return "_".join(parts[:2])


def parse_tabs(data: bytes, filename: str) -> NosTable:
    """Parse one ``.tabs`` file. Raises :class:`NosFormatError` naming the file and line on bad input.

    Code lists (TRE, JDV) fill ``codes``; association files (ASS) fill ``pairs`` with their first two
    columns; other kinds (the PUB index) carry no codes.
    """
    numbered = [(n, line) for n, line in enumerate(decode(data).splitlines(), start=1) if line.strip()]
    if numbered and numbered[0][1].startswith("<OID>;<Type"):
        numbered = numbered[1:]
    if len(numbered) < 2:
        raise NosFormatError(f"{filename}: expected a description line and a column header line")
    meta_number, meta_line = numbered[0]
    meta = meta_line.split(";")
    if len(meta) < 4:
        raise NosFormatError(f"{filename}:{meta_number}: description has {len(meta)} fields, expected 4 or more")
    oid, kind, file_field, description = (value.strip() for value in meta[:4])
    name = PurePath(file_field or filename).stem
    updated = meta[7].strip() if len(meta) > 7 and meta[7].strip() else None
    table = NosTable(table_id_of(name), name, kind, oid, description, updated=updated)
    header = numbered[1][1].split(";")
    is_code_list = len(header) > 1 and header[1].strip() == "<Code>"
    for number, line in numbered[2:]:
        fields = [value.strip() for value in line.split(";")]
        if is_code_list:
            if len(fields) < 3 or not fields[1]:
                raise NosFormatError(f"{filename}:{number}: expected OID;code;label, found {line!r}")
            valid_until = fields[6] if len(fields) > 6 and fields[6] else None
            table.codes.append(NosCode(fields[1], fields[2], valid_until))
        elif kind == "ASS" and len(fields) >= 2 and fields[0] and fields[1]:
            table.pairs.append((fields[0], fields[1]))
    return table


def iter_tables(path_or_bytes: bytes, filename: str) -> Iterator[NosTable]:
    """Yield the tables of one ``.tabs`` file or of a ZIP of them (the published bundle)."""
    if filename.lower().endswith(".zip"):
        try:
            archive = zipfile.ZipFile(io.BytesIO(path_or_bytes))
        except zipfile.BadZipFile as error:
            raise NosFormatError(f"{filename}: not a valid ZIP archive ({error})") from error
        with archive:
            for member in sorted(archive.namelist()):
                if member.lower().endswith(".tabs"):
                    yield parse_tabs(archive.read(member), f"{filename}!{member}")
        return
    yield parse_tabs(path_or_bytes, filename)
