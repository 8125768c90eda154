"""What the load benchmarks share: each pipeline runs as a child process and reports one JSON line.

A child's wall time, CPU time and peak RSS are its own; the parsing workers a rorsync load starts are
children of that child, stopped before the report so that their peak RSS and CPU time can be read apart.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from rorsync.sync import offload

ROOT = Path(__file__).resolve().parent.parent


def peak_rss_mb() -> float:
    """This process's own peak RSS (``VmHWM``). ``ru_maxrss`` would not do: Linux keeps it across
    ``execve``, so a child forked from a large parent reports the parent's size."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # not Linux


def report(*, worker: bool = False, **values: Any) -> None:
    """Print the child's figures; with ``worker``, the parsing workers' apart (``worker_*``: the
    largest peak RSS of them, their CPU time together)."""
    figures = {**values, "peak_rss_mb": round(peak_rss_mb(), 1), "cpu_s": round(time.process_time(), 2)}
    if worker:
        slots = offload.started_slots()
        peaks = [offload.worker(slot).submit(peak_rss_mb).result() for slot in slots]
        figures["workers"] = len(slots)
        figures["worker_peak_rss_mb"] = round(max(peaks), 1)
        offload.shutdown_worker()
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
