"""The daemon as systemd runs it: a child process, signals, the notify socket, a restart."""

from __future__ import annotations

import json
import signal
import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.service.conftest import config_data, to_toml, upgraded_sqlite
from tests.service.fakes import LOAD_OFFSET, LOADED
from tests.service.process import DaemonProcess

ORGANIZATIONS = 150


@pytest.fixture
def mirror_file(tmp_path: Path) -> Path:
    path = tmp_path / "mirror.sqlite"
    upgraded_sqlite(path)
    return path


def write_config(tmp_path: Path, mirror_file: Path, **schedule: str) -> Path:
    path = tmp_path / "rorsync.toml"
    data = config_data(f"sqlite:///{mirror_file}", tmp_path, schedule=schedule, logging={"format": "journal"})
    path.write_text(to_toml(data))
    return path


def query(mirror_file: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(mirror_file) as conn:
        return conn.execute(sql).fetchall()


def cursor(mirror_file: Path, stream: str) -> str | None:
    rows = query(mirror_file, f"SELECT value FROM sync_cursor WHERE stream = '{stream}'")
    return str(rows[0][0]) if rows else None


def wait_until(condition: object, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_sigterm_mid_load_stops_within_10_s_and_a_restart_resumes(tmp_path: Path, mirror_file: Path) -> None:
    config = write_config(tmp_path, mirror_file)
    slow_load = {"FAKE_ORGANIZATIONS": str(ORGANIZATIONS), "FAKE_BATCH": "10", "FAKE_BATCH_DELAY": "0.05"}
    first = DaemonProcess(config, **slow_load)
    try:
        wait_until(lambda: int(cursor(mirror_file, LOAD_OFFSET) or 0) >= 30)
        status, seconds = first.stop()
    finally:
        first.kill()
    assert status == 0 and seconds < 10
    first.wait_for_line("<6>stopped")
    runs = query(mirror_file, "SELECT kind, status, error FROM sync_run ORDER BY id")
    assert runs == [("full", "interrupted", "cancelled (per-run timeout or shutdown)")]
    offset = int(cursor(mirror_file, LOAD_OFFSET) or 0)
    assert query(mirror_file, "SELECT count(*) FROM organization") == [(offset,)]  # no half-written batch
    assert 0 < offset < ORGANIZATIONS and cursor(mirror_file, LOADED) is None

    second = DaemonProcess(config, **slow_load)
    try:
        wait_until(lambda: cursor(mirror_file, LOADED) is not None)
        second.wait_for_line("job fhir:delta scheduled")
        status, _ = second.stop()
    finally:
        second.kill()
    assert status == 0
    assert query(mirror_file, "SELECT count(*), count(DISTINCT resource_id) FROM organization") == [
        (ORGANIZATIONS, ORGANIZATIONS)
    ]
    loads = query(mirror_file, "SELECT status, counts FROM sync_run WHERE kind = 'full' ORDER BY id")
    assert [(status, json.loads(str(counts))["inserted"]) for status, counts in loads] == [
        ("interrupted", offset),
        ("ok", ORGANIZATIONS - offset),  # resumed where the first process stopped
    ]


class NotifySocket:
    """A test stand-in for systemd's notify socket (abstract namespace, as systemd uses)."""

    def __init__(self) -> None:
        self.address = f"@rorsync-test-{uuid.uuid4().hex}"
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.bind("\0" + self.address[1:])
        self._socket.settimeout(0.2)
        self.messages: list[str] = []
        self._running = True
        self._thread = threading.Thread(target=self._receive, daemon=True)
        self._thread.start()

    def _receive(self) -> None:
        while self._running:
            try:
                self.messages.append(self._socket.recv(4096).decode())
            except TimeoutError:
                continue

    def seen(self, assignment: str) -> list[int]:
        return [i for i, message in enumerate(self.messages) if assignment in message.split("\n")]

    def close(self) -> None:
        self._running = False
        self._thread.join(2)
        self._socket.close()


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    listener = NotifySocket()
    yield listener
    listener.close()


def test_sighup_reloads_refuses_an_invalid_file_and_systemd_hears_every_step(
    tmp_path: Path, mirror_file: Path, notify_socket: NotifySocket
) -> None:
    config = write_config(tmp_path, mirror_file, fhir_delta="1s")
    daemon = DaemonProcess(config, NOTIFY_SOCKET=notify_socket.address, WATCHDOG_USEC="400000", FAKE_ORGANIZATIONS="30")
    try:
        daemon.wait_for_line("job fhir:delta scheduled every 0:00:01")
        wait_until(lambda: notify_socket.seen("READY=1") and len(notify_socket.seen("WATCHDOG=1")) >= 2)
        assert any(m.startswith("READY=1\nSTATUS=") for m in notify_socket.messages)
        assert "STATUS=fhir initial load: 30/30 (100.0%)" in "\n".join(notify_socket.messages).replace(",", "\n")

        write_config(tmp_path, mirror_file, fhir_delta="2s")
        daemon.send(signal.SIGHUP)
        daemon.wait_for_line("job fhir:delta scheduled every 0:00:02")
        assert "rebuilt=fhir" in daemon.wait_for_line("configuration reloaded")
        reloading = notify_socket.seen("RELOADING=1")
        wait_until(lambda: any(i > reloading[0] for i in notify_socket.seen("READY=1")))

        config.write_text(config.read_text().replace('fhir_delta = "2s"', 'fhir_delta = "soon"'))
        daemon.send(signal.SIGHUP)
        refused = daemon.wait_for_line("configuration reload refused")
        assert refused.startswith("<3>") and "schedule.fhir_delta" in refused and "'soon' is not a duration" in refused
        pings = len(notify_socket.seen("WATCHDOG=1"))
        wait_until(lambda: len(notify_socket.seen("WATCHDOG=1")) > pings + 2)  # still alive, still pinging
        assert daemon.process.poll() is None

        status, _ = daemon.stop()
    finally:
        daemon.kill()
    assert status == 0
    assert notify_socket.seen("STOPPING=1")
    assert all(line.startswith("<") for line in daemon.lines)  # journal format: priority prefix, no timestamp
