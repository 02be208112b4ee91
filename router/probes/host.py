"""The host's own figures through psutil (room: probes): cpu and memory use, disk and inode
use of file systems, and how many processes of a name run. Each blocks (cpu sleeps between
samples) and runs in a worker thread."""

from __future__ import annotations

import os

import psutil

from router.config.model import Check
from router.core.checks import Reading


def cpu(check: Check) -> Reading:
    """Use of all cores, averaged over `samples` one-second samples (a single sample
    would page on a moment's spike)."""
    samples = [psutil.cpu_percent(interval=1.0) for _ in range(check.samples)]
    average = sum(samples) / len(samples)
    return Reading(metrics={"cpu_percent": round(average, 1)},
                   message=f"cpu {average:.1f}% used over {len(samples)} s")


def memory(check: Check) -> Reading:
    """Memory in use (what is not available to new processes), and swap when asked."""
    virtual = psutil.virtual_memory()
    metrics = {"memory_percent": virtual.percent}
    message = f"memory {virtual.percent:g}% used"
    if check.swap is not None:
        swap = psutil.swap_memory()
        metrics["swap_percent"] = swap.percent
        message += f", swap {swap.percent:g}% used" if swap.total else ", no swap"
    return Reading(metrics=metrics, message=message)


def disk(check: Check) -> Reading:
    """Percent used of each path's file system, and of its inodes when asked (a file
    system with no inode limit, as btrfs reports, has no inode figure)."""
    metrics: dict[str, float] = {}
    parts = []
    for path in check.paths:
        usage = psutil.disk_usage(path)
        metrics[f"disk_percent:{path}"] = usage.percent
        parts.append(f"{path} {usage.percent:g}%")
        if check.inodes is not None:
            stats = os.statvfs(path)
            if stats.f_files:
                used = 100 * (stats.f_files - stats.f_ffree) / stats.f_files
                metrics[f"inodes_percent:{path}"] = round(used, 1)
                parts[-1] += f" (inodes {used:.1f}%)"
    return Reading(metrics=metrics, message="used: " + ", ".join(parts))


def process(check: Check) -> Reading:
    """How many processes run under each name: the kernel's name (15 characters at most),
    the executable's or the first argument's base name."""
    counts = dict.fromkeys(check.names, 0)
    for found in psutil.process_iter(["name", "exe", "cmdline"]):
        info = found.info
        names = {info.get("name") or "", os.path.basename(info.get("exe") or "")}
        if info.get("cmdline"):
            names.add(os.path.basename(info["cmdline"][0]))
        for name in counts:
            if name in names:
                counts[name] += 1
    return Reading(metrics={f"processes:{name}": count for name, count in counts.items()},
                   message=", ".join(f"{name}: {count} running"
                                     for name, count in counts.items()))
