"""The systemd notification protocol (``sd_notify``) for a ``Type=notify`` unit.

Written here rather than taken from a library because the protocol is one datagram of
``KEY=VALUE`` lines to the Unix socket named by ``NOTIFY_SOCKET`` (``@name`` being an abstract
socket): ``systemd-python`` needs libsystemd headers to build, and the small pure-Python packages
(``sdnotify``, ``systemd-notify``) are unmaintained and would still leave the watchdog timing and
error handling to us. Outside systemd (no ``NOTIFY_SOCKET``) every call is a no-op.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Mapping

logger = logging.getLogger(__name__)


class Notifier:
    def __init__(self, address: str | None = None) -> None:
        address = address if address is not None else os.environ.get("NOTIFY_SOCKET")
        self._address = "\0" + address[1:] if address and address.startswith("@") else address
        self._socket: socket.socket | None = None
        self._warned = False
        if self._address:
            self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)

    @property
    def enabled(self) -> bool:
        return self._socket is not None

    def send(self, *assignments: str) -> None:
        """Send ``KEY=VALUE`` lines in one datagram; a failure is logged once, never raised."""
        if self._socket is None or self._address is None:
            return
        try:
            self._socket.sendto("\n".join(assignments).encode(), self._address)
        except OSError as error:
            if not self._warned:
                logger.warning("cannot notify systemd through %s: %s", os.environ.get("NOTIFY_SOCKET"), error)
                self._warned = True

    def ready(self, status: str) -> None:
        self.send("READY=1", _status(status))

    def status(self, text: str) -> None:
        self.send(_status(text))

    def watchdog(self) -> None:
        self.send("WATCHDOG=1")

    def reloading(self) -> None:
        # MONOTONIC_USEC lets systemd ≥ 253 (Type=notify-reload) match the reload it asked for.
        self.send("RELOADING=1", f"MONOTONIC_USEC={time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000}")

    def stopping(self) -> None:
        self.send("STOPPING=1", _status("stopping"))

    def close(self) -> None:
        if self._socket is not None:
            self._socket.close()
            self._socket = None


def _status(text: str) -> str:
    return "STATUS=" + " ".join(text.split())  # one line, whatever the text held


def watchdog_period(environ: Mapping[str, str] = os.environ) -> float | None:
    """Seconds between ``WATCHDOG=1`` pings: half of ``WatchdogSec``, as sd_watchdog_enabled advises.

    None when systemd expects no pings, or expects them from another process (``WATCHDOG_PID``).
    """
    usec = environ.get("WATCHDOG_USEC", "")
    pid = environ.get("WATCHDOG_PID", "")
    if not usec.isdigit() or int(usec) == 0 or (pid and pid != str(os.getpid())):
        return None
    return int(usec) / 1_000_000 / 2
