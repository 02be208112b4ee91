"""What the local provider reads of the host (room: analysis; psutil and the file system):
the top processes by memory and by CPU, memory, load, disk use per mount, and the largest
and oldest files under given paths, each read bounded (a count, a time budget).

Blocking: called from the provider in a worker thread.
"""

from __future__ import annotations

import heapq
import os
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import psutil

CPU_SAMPLE_SECONDS = 0.2
"""How long processes' CPU use is sampled: two readings this far apart."""


def memory() -> dict[str, Any]:
    found = psutil.virtual_memory()
    swap = psutil.swap_memory()
    return {"percent": found.percent, "total_bytes": found.total,
            "available_bytes": found.available, "swap_percent": swap.percent}


def load() -> dict[str, Any]:
    one, five, fifteen = psutil.getloadavg()
    cores = psutil.cpu_count() or 1
    return {"load_1m": one, "load_5m": five, "load_15m": fifteen, "cores": cores,
            "load_per_core": round(one / cores, 2)}


IMAGE_FILE_SYSTEMS = frozenset({"squashfs", "iso9660", "udf", "erofs", "cramfs"})
"""File systems that are images, always 100% full (a snap, a mounted ISO): not disks that
fill up, and reported they would be every disk incident's probable cause."""


def disks() -> list[dict[str, Any]]:
    """Use per mounted file system, fullest first; pseudo file systems, images and
    read-only mounts (nothing can fill them) left out."""
    found = []
    for partition in psutil.disk_partitions(all=False):
        if partition.fstype in IMAGE_FILE_SYSTEMS or "ro" in partition.opts.split(","):
            continue
        try:
            usage = psutil.disk_usage(partition.mountpoint)
        except OSError:  # gone or not ours to read: the others still count
            continue
        found.append({"mount": partition.mountpoint, "device": partition.device,
                      "percent": usage.percent, "free_bytes": usage.free,
                      "total_bytes": usage.total})
    return sorted(found, key=lambda item: -float(item["percent"]))


def processes(count: int, *, sample: float = CPU_SAMPLE_SECONDS,
              sleep: Callable[[float], None] = time.sleep) -> dict[str, list[dict[str, Any]]]:
    """The `count` processes using the most memory and the most CPU (over `sample`
    seconds; one that used none is not busy). Router's own is left out (kept apart as
    `router`): its analysis (another run's scan, this sampling) would put it at the top of
    a quiet host, pointing at itself."""
    alive = list(psutil.process_iter(["pid", "name", "username", "memory_info"]))
    for process in alive:
        try:
            process.cpu_percent(None)
        except psutil.Error:
            continue
    sleep(sample)
    rows = []
    for process in alive:
        try:
            cpu = process.cpu_percent(None)
        except psutil.Error:  # ended meanwhile, or not ours to read
            continue
        info = process.info
        rss = info["memory_info"].rss if info.get("memory_info") else 0
        rows.append({"pid": info["pid"], "name": info.get("name") or "",
                     "user": info.get("username") or "", "rss_bytes": rss,
                     "cpu_percent": cpu})
    mine = [row for row in rows if row["pid"] == os.getpid()]
    others = [row for row in rows if row["pid"] != os.getpid()]
    return {"by_memory": heapq.nlargest(count, others, key=lambda row: row["rss_bytes"]),
            "by_cpu": heapq.nlargest(count, [row for row in others if row["cpu_percent"] > 0],
                                     key=lambda row: row["cpu_percent"]),
            "router": mine}


@dataclass(frozen=True, slots=True)
class Scan:
    """The largest and oldest files found, how many were looked at, and whether the scan
    stopped at its bound (`max_files` or its time) before it saw everything."""

    largest: list[dict[str, Any]]
    oldest: list[dict[str, Any]]
    files: int
    complete: bool


def scan(paths: Sequence[str], *, max_files: int, seconds: float, count: int = 5,
         monotonic: Callable[[], float] = time.monotonic) -> Scan:
    """Walk `paths` (symbolic links not followed) until `max_files` files or `seconds`."""
    deadline = monotonic() + seconds
    entries: list[tuple[int, float, str]] = []
    complete = True
    for path, size, modified in _files(paths):
        if len(entries) >= max_files or monotonic() > deadline:
            complete = False
            break
        if size >= 0:  # a directory is -1: the time is checked for it too
            entries.append((size, modified, path))
    largest = heapq.nlargest(count, entries)
    oldest = heapq.nsmallest(count, entries, key=lambda entry: entry[1])
    return Scan(largest=[{"path": path, "bytes": size} for size, _, path in largest],
                oldest=[{"path": path, "modified": modified} for _, modified, path in oldest],
                files=len(entries), complete=complete)


def _files(paths: Sequence[str]) -> Iterator[tuple[str, int, float]]:
    """(path, size, modification time) of every regular file under `paths`, depth first,
    and (path, -1, 0) for each other entry listed (so a tree of empty directories, or one
    directory of a million subdirectories or links, still meets the scan's deadline entry
    by entry, and holds no more directories to enter than it had time to list); what
    cannot be read is passed over. Each path's walk stays
    on its file system, as `du -x`: not into /proc (whose kcore would be the largest
    file), /sys, or a network mount where one read can block past every bound."""
    stack: list[tuple[str, int]] = []
    for path in reversed(paths):
        try:
            stack.append((path, os.stat(path).st_dev))
        except OSError:
            continue
    while stack:
        directory, device = stack.pop()
        yield directory, -1, 0.0
        try:
            with os.scandir(directory) as found:
                for entry in found:
                    yield _entry(entry, device, stack)
        except OSError:
            continue


def _entry(entry: os.DirEntry[str], device: int,
           stack: list[tuple[str, int]]) -> tuple[str, int, float]:
    """One listed entry: a regular file's size and time; else -1, a directory on the same
    file system put on `stack` to enter."""
    try:
        if entry.is_dir(follow_symlinks=False):
            if entry.stat(follow_symlinks=False).st_dev == device:
                stack.append((entry.path, device))
        elif entry.is_file(follow_symlinks=False):
            status = entry.stat(follow_symlinks=False)
            return entry.path, status.st_size, status.st_mtime
    except OSError:
        pass
    return entry.path, -1, 0.0
