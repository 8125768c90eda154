"""Log formats that read well in journald, and the sd_notify client."""

from __future__ import annotations

import io
import json
import logging
import os
import socket
import sys
import uuid
from collections.abc import Iterator

import pytest

from rorsync.config import LoggingSettings
from rorsync.logs import configure_logging, fields, formatter_for
from rorsync.service.notify import Notifier, watchdog_period


def record(level: int, message: str, **values: object) -> logging.LogRecord:
    entry = logging.LogRecord("rorsync.service", level, __file__, 1, message, None, None)
    entry.__dict__.update(fields(**values))
    return entry


def test_journal_lines_carry_a_priority_and_logfmt_fields_on_one_line() -> None:
    journal = formatter_for("journal", io.StringIO())
    line = journal.format(
        record(logging.ERROR, "fhir:delta failing", lane="fhir:delta", error='Bad "page" 2', none=None)
    )
    assert line == '<3>fhir:delta failing lane=fhir:delta error="Bad \\"page\\" 2"'
    assert journal.format(record(logging.INFO, "started")) == "<6>started"
    assert journal.format(record(logging.WARNING, "w")).startswith("<4>")
    try:
        raise ValueError("boom")
    except ValueError:
        failed = record(logging.ERROR, "crashed")
        failed.exc_info = sys.exc_info()
    folded = journal.format(failed)
    assert "\n" not in folded and folded.startswith("<3>crashed traceback=") and "ValueError: boom" in folded


def test_json_lines_are_objects_with_the_fields() -> None:
    document = json.loads(formatter_for("json", io.StringIO()).format(record(logging.INFO, "ok", requests=2)))
    assert (document["level"], document["message"], document["requests"]) == ("info", "ok", 2)


def test_auto_picks_the_journal_only_when_stderr_is_the_journal_stream(monkeypatch: pytest.MonkeyPatch) -> None:
    with open(os.devnull, "w") as stream:
        stat = os.fstat(stream.fileno())
        monkeypatch.setenv("JOURNAL_STREAM", f"{stat.st_dev}:{stat.st_ino}")
        assert type(formatter_for("auto", stream)).__name__ == "JournalFormatter"
        monkeypatch.setenv("JOURNAL_STREAM", "1:2")  # inherited from a parent, not our stderr
        assert type(formatter_for("auto", stream)).__name__ == "TextFormatter"
        monkeypatch.delenv("JOURNAL_STREAM")
        assert type(formatter_for("auto", stream)).__name__ == "TextFormatter"


def test_reconfiguring_replaces_only_the_rorsync_handler() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        configure_logging(LoggingSettings(format="text"), io.StringIO())
        configure_logging(LoggingSettings(format="journal", level="WARNING"), io.StringIO())
        ours = [h for h in root.handlers if h.get_name() == "rorsync"]
        assert len(ours) == 1 and root.level == logging.WARNING
        assert [h for h in root.handlers if h not in ours] == before
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "rorsync"]:
            root.removeHandler(handler)
        root.setLevel(level)


@pytest.fixture
def abstract_socket() -> Iterator[tuple[str, socket.socket]]:
    name = f"@rorsync-unit-{uuid.uuid4().hex}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind("\0" + name[1:])
    listener.settimeout(2)
    yield name, listener
    listener.close()


def test_notifier_speaks_to_abstract_sockets_with_one_line_statuses(abstract_socket: tuple[str, socket.socket]) -> None:
    address, listener = abstract_socket
    notifier = Notifier(address)
    notifier.ready("fhir up;\ncsd starting")
    notifier.watchdog()
    notifier.reloading()
    assert listener.recv(4096) == b"READY=1\nSTATUS=fhir up; csd starting"
    assert listener.recv(4096) == b"WATCHDOG=1"
    reloading = listener.recv(4096).decode().split("\n")
    assert reloading[0] == "RELOADING=1" and reloading[1].startswith("MONOTONIC_USEC=")
    notifier.close()


def test_notifier_is_silent_outside_systemd_and_survives_a_vanished_socket(caplog: pytest.LogCaptureFixture) -> None:
    Notifier("").ready("nobody listens")  # no NOTIFY_SOCKET: nothing to do
    gone = Notifier(f"@rorsync-nobody-{uuid.uuid4().hex}")
    gone.watchdog()
    gone.watchdog()
    assert len([r for r in caplog.records if "cannot notify systemd" in r.getMessage()]) == 1


def test_watchdog_period_is_half_of_watchdog_sec_for_this_process() -> None:
    assert watchdog_period({"WATCHDOG_USEC": "60000000"}) == 30.0
    assert watchdog_period({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": str(os.getpid())}) == 30.0
    assert watchdog_period({"WATCHDOG_USEC": "60000000", "WATCHDOG_PID": "1"}) is None
    assert watchdog_period({}) is None
