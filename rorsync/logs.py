"""Log output that reads well where rorsync runs: journald, a terminal, or a log collector.

Events carry structured fields (``logger.info("run failed", extra=fields(job="fhir:delta"))``),
rendered as ``key=value`` pairs after the message:

* ``journal``: ``<3>fhir:delta failing: TimeoutError… job=fhir:delta failures=1``, no timestamp
  (journald adds its own) and a syslog priority prefix so ``journalctl -p warning`` works; one line
  per event, tracebacks folded into a ``traceback=`` field.
* ``text``: timestamp, level, logger, message and fields, for terminals and plain files.
* ``json``: one object per line, for collectors.

``auto`` picks ``journal`` when stderr is connected to the journal (``JOURNAL_STREAM``), else text.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any, TextIO

import orjson

from rorsync.config import LoggingSettings

_PRIORITIES = {logging.DEBUG: 7, logging.INFO: 6, logging.WARNING: 4, logging.ERROR: 3, logging.CRITICAL: 2}
_QUIET_LIBRARIES = {"apscheduler": logging.WARNING, "aiohttp.access": logging.WARNING, "alembic": logging.WARNING}


def fields(**values: object) -> dict[str, Any]:
    """The ``extra=`` of a log call carrying structured fields."""
    return {"fields": values}


def _fields_of(record: logging.LogRecord) -> dict[str, object]:
    values: dict[str, object] = getattr(record, "fields", None) or {}
    return {key: value for key, value in values.items() if value is not None}


def _logfmt_value(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and not any(c in text for c in ' "=\n\t\\'):
        return text
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _logfmt(values: dict[str, object]) -> str:
    return " ".join(f"{key}={_logfmt_value(value)}" for key, value in values.items())


class JournalFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        values = _fields_of(record)
        if record.exc_info:
            values["traceback"] = self.formatException(record.exc_info)
        priority = _PRIORITIES.get(record.levelno, 6 if record.levelno < logging.WARNING else 3)
        line = f"<{priority}>{record.getMessage()}"
        return f"{line} {_logfmt(values)}" if values else line


class TextFormatter(logging.Formatter):
    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S")

    def formatMessage(self, record: logging.LogRecord) -> str:
        values = _fields_of(record)
        line = super().formatMessage(record)
        return f"{line} {_logfmt(values)}" if values else line


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, object] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields_of(record),
        }
        if record.exc_info:
            document["traceback"] = self.formatException(record.exc_info)
        return orjson.dumps(document, default=str).decode()


def journal_attached(stream: TextIO) -> bool:
    """True when ``stream`` is the journal stream systemd gave us (not merely inherited by a child)."""
    expected = os.environ.get("JOURNAL_STREAM")
    if not expected:
        return False
    try:
        stat = os.fstat(stream.fileno())
    except (OSError, ValueError):
        return False
    return expected == f"{stat.st_dev}:{stat.st_ino}"


def formatter_for(name: str, stream: TextIO) -> logging.Formatter:
    if name == "auto":
        name = "journal" if journal_attached(stream) else "text"
    return {"journal": JournalFormatter, "json": JsonFormatter}.get(name, TextFormatter)()


class _StderrHandler(logging.StreamHandler[TextIO]):
    """Writes to whatever ``sys.stderr`` is at the time, so a live progress display can redirect it."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _: TextIO) -> None:
        pass


class _OverrunFilter(logging.Filter):
    """APScheduler warns at every firing that finds the previous run still going: keep that for DEBUG.

    With ``max_instances=1`` the skip is the intended behaviour, and a job slower than its interval
    would otherwise write a warning every interval.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if "maximum number of running instances reached" in record.getMessage():
            return logging.getLogger().isEnabledFor(logging.DEBUG)
        return True


_OVERRUNS = _OverrunFilter()
_HANDLER_NAME = "rorsync"  # a reload replaces our handler, and only ours


def configure_logging(settings: LoggingSettings, stream: TextIO | None = None) -> None:
    """(Re)configure the root logger; called at start-up and again on a configuration reload."""
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler.setFormatter(formatter_for(settings.format, stream or sys.stderr))
    handler.set_name(_HANDLER_NAME)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER_NAME]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    for library, level in _QUIET_LIBRARIES.items():
        logging.getLogger(library).setLevel(max(level, logging.getLevelName(settings.level)))
    scheduler = logging.getLogger("apscheduler.scheduler")
    if _OVERRUNS not in scheduler.filters:
        scheduler.addFilter(_OVERRUNS)
