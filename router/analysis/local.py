"""The local provider (room: analysis): no network, no model. Keywords in the incident's
labels, title and annotations pick the kinds of analysis (memory, disk, cpu, process,
network; `analysis.keywords`); each kind reads the host (analysis/host.py) and turns what it
finds into typed recommendations, as do the results of the incident's health checks and its
past incidents.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from router.analysis import host
from router.analysis.model import PRIORITIES, Priority, Recommendation, Request, Result
from router.config.model import Analysis

STATUS_PRIORITY: Mapping[str, Priority] = {"critical": "critical", "warning": "high",
                                           "unknown": "medium"}


def pick_kinds(request: Request, keywords: Mapping[str, Sequence[str]]) -> list[str]:
    """The kinds whose words appear (any case) in the incident's label values, title and
    annotations, in `keywords`' order, where a word or a part of a name written together
    starts (`HighMemoryUsage` and `PodOOMKilled` are memory; 'room', 'download' and
    'payload' are nothing). Not in label names: they say what a value is, not what
    happened (`namespace`, on every Kubernetes alert, holds `space`)."""
    text = " ".join([request.title, *request.labels.values(),
                     *request.annotations.values()])
    return [kind for kind, words in keywords.items()
            if any(_starts_at_a_word(text, word) for word in words)]


def _starts_at_a_word(text: str, word: str) -> bool:
    for found in re.finditer(re.escape(word), text, re.IGNORECASE):
        at = found.start()
        before, here = text[at - 1] if at else " ", text[at]
        after = text[at + 1] if at + 1 < len(text) else " "
        if (not before.isalnum() or (before.isdigit() and here.isalpha())
                or (here.isupper() and before.islower())
                or (here.isupper() and before.isupper() and after.islower())):
            return True
    return False


def _level(percent: float) -> Priority:
    return "critical" if percent >= 95 else "high" if percent >= 85 else "medium" \
        if percent >= 70 else "low"


OOM_KILLS = "journalctl -k --since '-1h' | grep -i -E 'out of memory|oom'"
"""Where an OOM kill shows: its memory is free again by the time the analysis looks."""
UNITS = ("B", "KiB", "MiB", "GiB", "TiB", "PiB")


def size(count: float) -> str:
    """`count` bytes in the largest unit it fills: `0 B`, `4.9 KiB`, `513 KiB`, `72 GiB`."""
    unit = 0
    while count >= 1024 and unit < len(UNITS) - 1:
        count, unit = count / 1024, unit + 1
    return f"{count:.0f} B" if unit == 0 else \
        f"{count:.1f} {UNITS[unit]}" if count < 10 else f"{count:.0f} {UNITS[unit]}"


def _day(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).date().isoformat()


class LocalProvider:
    """Analyses an incident from the host it runs on; `settings` bound the reading."""

    name = "local"

    def __init__(self, settings: Analysis, *,
                 processes: Callable[[int], dict[str, list[dict[str, Any]]]] = host.processes
                 ) -> None:
        self.settings = settings
        self._processes = processes

    def analyse(self, request: Request) -> Result:
        kinds = pick_kinds(request, self.settings.keywords)
        findings: dict[str, Any] = {"kinds": kinds}
        found: list[Recommendation] = []
        if {"memory", "cpu", "process"} & set(kinds):
            findings["processes"] = self._processes(self.settings.top_processes)
        for kind in kinds or ["general"]:
            found += getattr(self, f"_{kind}")(findings)
        found += checks_findings(request)
        found += history(request.past)
        found.sort(key=lambda item: PRIORITIES.index(item.priority))
        cause = found[0].title if found and found[0].priority in ("critical", "high") else ""
        return Result(
            summary=f"{request.title}: looked at {', '.join(kinds) or 'the host in general'}; "
                    f"{len(found)} recommendation{'s' if len(found) != 1 else ''}",
            recommendations=tuple(found), probable_cause=cause, findings=findings)

    def _memory(self, findings: dict[str, Any]) -> list[Recommendation]:
        memory = findings["memory"] = host.memory()
        top = findings["processes"]["by_memory"]
        largest = ", ".join(f"{row['name']} ({row['pid']}, {size(row['rss_bytes'])})"
                            for row in top[:3])
        return [Recommendation(
            type="memory", priority=_level(memory["percent"]),
            title=f"Memory {memory['percent']:.0f}% used (swap {memory['swap_percent']:.0f}%)",
            description=f"Largest processes: {largest or 'none readable'}. A process the "
                        "kernel killed for memory is in the kernel's log.",
            actions=(OOM_KILLS, *(f"ps -o pid,rss,etime,cmd -p {row['pid']}"
                                  for row in top[:3])),
            details={"memory": memory, "top": top})]

    def _disk(self, findings: dict[str, Any]) -> list[Recommendation]:
        disks = findings["disks"] = host.disks()
        found = [Recommendation(
            type="disk", priority=_level(disk["percent"]),
            title=f"{disk['mount']} is {disk['percent']:.0f}% full",
            description=f"{size(disk['free_bytes'])} free on {disk['device']}.",
            actions=(f"du -xsh {disk['mount'].rstrip('/')}/* | sort -h | tail",),
            details=disk) for disk in disks[:3]]
        if self.settings.paths:
            scan = host.scan(self.settings.paths, max_files=self.settings.max_files,
                             seconds=self.settings.scan_time.total_seconds())
            findings["files"] = {"largest": scan.largest, "oldest": scan.oldest,
                                 "scanned": scan.files, "complete": scan.complete}
            if scan.largest:
                found.append(Recommendation(
                    type="disk", priority="medium",
                    title="Largest and oldest files under " + ", ".join(self.settings.paths),
                    description=f"{scan.files} files looked at"
                                f"{'' if scan.complete else ' (the scan stopped at its bound)'}"
                                f"; the largest is {scan.largest[0]['path']} "
                                f"({size(scan.largest[0]['bytes'])}), the oldest "
                                f"{scan.oldest[0]['path']} "
                                f"(modified {_day(scan.oldest[0]['modified'])}).",
                    actions=tuple(f"ls -l {item['path']}" for item in scan.largest[:3]),
                    details=findings["files"]))
        return found

    def _cpu(self, findings: dict[str, Any]) -> list[Recommendation]:
        load = findings["load"] = host.load()
        top = findings["processes"]["by_cpu"]
        busiest = ", ".join(f"{row['name']} ({row['pid']}, {row['cpu_percent']:.0f}%)"
                            for row in top[:3])
        return [Recommendation(
            type="cpu", priority=_level(min(100.0, load["load_per_core"] * 100)),
            title=f"Load {load['load_1m']:.2f} on {load['cores']} cores",
            description=f"Busiest processes: {busiest or 'none readable'}.",
            actions=tuple(f"top -b -n 1 -p {row['pid']}" for row in top[:3]),
            details={"load": load, "top": top})]

    def _process(self, findings: dict[str, Any]) -> list[Recommendation]:
        top = findings["processes"]["by_memory"]
        return [Recommendation(
            type="process", priority="medium",
            title="Check the process's restarts and its last log lines",
            description="The incident names a process, a crash or a restart.",
            actions=("systemctl --failed", "journalctl -p err --since '-1h' | tail -n 50"),
            details={"top": top})]

    def _network(self, findings: dict[str, Any]) -> list[Recommendation]:
        return [Recommendation(
            type="network", priority="medium", title="Check connectivity and name resolution",
            description="The incident names the network, a timeout, a connection or DNS.",
            actions=("ss -s", "resolvectl status", "ip -s link"))]

    def _general(self, findings: dict[str, Any]) -> list[Recommendation]:
        memory, disks = host.memory(), host.disks()
        findings.update(memory=memory, disks=disks, load=host.load())
        fullest = disks[0] if disks else None
        worst = max(memory["percent"], fullest["percent"] if fullest else 0.0)
        return [Recommendation(
            type="general", priority=_level(worst), title="The host at a glance",
            description=f"Memory {memory['percent']:.0f}% used"
                        + (f"; {fullest['mount']} {fullest['percent']:.0f}% full"
                           if fullest else "") + ".",
            details={"memory": memory, "fullest_disk": fullest or {}})]


def checks_findings(request: Request) -> list[Recommendation]:
    """A recommendation for each attached or raising check that is not ok, with its
    metrics."""
    found = []
    for name, result in sorted(request.checks.items()):
        status = str(result.get("status", "unknown"))
        if status == "ok":
            continue
        found.append(Recommendation(
            type="check", priority=STATUS_PRIORITY.get(status, "medium"),
            title=f"Check {name} is {status}", description=str(result.get("message", "")),
            actions=(f"router checks {name}",),
            details={"metrics": dict(result.get("metrics") or {})}))
    return found


def history(past: Mapping[str, Any]) -> list[Recommendation]:
    """What past incidents of the same dedup key tell: how often, how they were ended."""
    by_key = past.get("by_key") or {}
    count = int(by_key.get("count") or 0)
    if not count:
        return []
    return [Recommendation(
        type="history", priority="high" if count >= 5 else "medium",
        title=f"Fired {count} time{'s' if count != 1 else ''} in the last 30 days",
        description=_history_text(by_key), details=dict(past))]


def _history_text(by_key: Mapping[str, Any]) -> str:
    """How long they took, who resolved the latest, and the notes left (newest first)."""
    resolutions = by_key.get("resolutions") or []
    notes = [note for item in resolutions for note in item.get("notes", ())]
    resolve = by_key.get("median_minutes_to_resolve")
    last = resolutions[0] if resolutions else {}
    parts = [f"Median time to resolve {resolve:.0f} minutes." if resolve is not None else "",
             f"The last, INC{last['incident']}, resolved by {last['resolved_by']}."
             if last.get("resolved_by") else "",
             f"Notes left: {' | '.join(notes[:3])}" if notes else ""]
    return " ".join(part for part in parts if part)
