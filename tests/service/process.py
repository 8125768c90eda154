"""A daemon in a child process, with its log lines collected as they come."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


class DaemonProcess:
    def __init__(self, config: Path, **environment: str) -> None:
        env = {**os.environ, "PYTHONPATH": str(ROOT), **environment}
        env.pop("JOURNAL_STREAM", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.service.fake_daemon", "--config", str(config), "run"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: list[str] = []
        self._changed = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            with self._changed:
                self.lines.append(line.rstrip("\n"))
                self._changed.notify_all()

    def wait_for_line(self, text: str, within: float = 20.0, after: int = 0) -> str:
        """The first log line (from index ``after``) containing ``text``."""
        deadline = time.monotonic() + within
        with self._changed:
            while True:
                for line in self.lines[after:]:
                    if text in line:
                        return line
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    log = "\n".join(self.lines)
                    raise AssertionError(f"no log line with {text!r} (exit status {self.process.poll()}):\n{log}")
                self._changed.wait(min(remaining, 0.1))

    def send(self, number: signal.Signals) -> None:
        self.process.send_signal(number)

    def stop(self, within: float = 10.0) -> tuple[int, float]:
        """SIGTERM, then (exit status, seconds it took to exit)."""
        started = time.monotonic()
        self.send(signal.SIGTERM)
        status = self.process.wait(within)
        self._reader.join(5)
        return status, time.monotonic() - started

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(5)
