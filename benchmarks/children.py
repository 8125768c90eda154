"""What the load benchmarks share: each pipeline runs as a child process and reports one JSON line.

A child's wall time, CPU time and peak RSS are its own. The parsing workers a rorsync load starts are
children of that child: their CPU time is read once they have stopped, and their peak RSS
(``VmHWM``) is watched while they run, since a load stops the extra CSD readers at its end.
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from rorsync.sync import offload

ROOT = Path(__file__).resolve().parent.parent


def _vm_hwm_mb(status: Path) -> float | None:
    try:
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:  # the process has gone
        return None
    return None


def peak_rss_mb() -> float:
    """This process's own peak RSS (``VmHWM``). ``ru_maxrss`` would not do: Linux keeps it across
    ``execve``, so a child forked from a large parent reports the parent's size."""
    own = _vm_hwm_mb(Path("/proc/self/status"))
    return own if own is not None else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


class WorkerWatch:
    """The peak RSS of each child process (the parsing workers), sampled every half second."""

    def __init__(self) -> None:
        self.peaks: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _workers(self) -> list[int]:
        """This process's spawned workers (not multiprocessing's resource tracker)."""
        me = str(os.getpid())
        found = []
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                parent = stat.read_text().rpartition(")")[2].split()[1]
                command = (stat.parent / "cmdline").read_bytes()
            except (OSError, IndexError):
                continue
            if parent == me and b"spawn_main" in command:
                found.append(int(stat.parent.name))
        return found

    def sample(self) -> None:
        for pid in self._workers():
            peak = _vm_hwm_mb(Path(f"/proc/{pid}/status"))
            if peak is not None:
                self.peaks[pid] = max(peak, self.peaks.get(pid, 0.0))

    def _run(self) -> None:
        while not self._stop.wait(0.5):
            self.sample()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()


def report(*, watch: WorkerWatch | None = None, **values: Any) -> None:
    """Print the child's figures; with a ``watch`` of its parsing workers, theirs apart (``worker_*``:
    how many ran, the largest peak RSS, their CPU time together)."""
    figures = {**values, "peak_rss_mb": round(peak_rss_mb(), 1), "cpu_s": round(time.process_time(), 2)}
    if watch is not None:
        watch.stop()
        offload.shutdown_worker()
        figures["workers"] = len(watch.peaks)
        figures["worker_peak_rss_mb"] = round(max(watch.peaks.values(), default=0.0), 1)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        figures["worker_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 2)
    print(json.dumps(figures))


def run_child(script: str, kind: str, *options: str, **extra: Any) -> dict[str, Any]:
    """Run ``script --child kind`` with ``options`` and ``--key value`` for each ``extra``; its report."""
    command = [sys.executable, script, "--child", kind, *options]
    for key, value in extra.items():
        command += [f"--{key}", str(value)]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT, env={"PYTHONPATH": str(ROOT)})
    if done.returncode != 0:
        raise SystemExit(f"{kind} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"  {kind:<10} {result}", file=sys.stderr)
    return result


def print_rss(ours: dict[str, Any]) -> None:
    print(
        f"rorsync peak RSS: {ours['peak_rss_mb']:.0f} MB, its parsing workers ({ours['workers']}) at most"
        f" {ours['worker_peak_rss_mb']:.0f} MB each (CPU {ours['cpu_s']:.0f} s + {ours['worker_cpu_s']:.0f} s"
        " in the workers)   (target <= 300 each)"
    )
