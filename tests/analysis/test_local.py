"""The local provider (issue 21 item 2): keywords pick the kinds of analysis; psutil gives
the top processes and the disks; the scan of configured paths finds the largest and oldest
files within its bounds; the incident's check results and past incidents become typed
recommendations. Real psutil, real files."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import psutil
import pytest

from router.analysis import host
from router.analysis.local import LocalProvider, pick_kinds
from router.analysis.local import size as local_size
from router.analysis.model import PRIORITIES, Request
from router.config.model import ANALYSIS_KINDS, Analysis


def request(title: str, **labels: str) -> Request:
    return Request(incident_id="INC3", title=title, severity="critical", labels=labels)


def test_keywords_pick_the_kinds_from_labels_title_and_annotations() -> None:
    assert pick_kinds(request("HighMemoryUsage on db1"), ANALYSIS_KINDS) == ["memory"]
    assert pick_kinds(request("x", alertname="NodeFilesystemAlmostOutOfSpace"),
                      ANALYSIS_KINDS) == ["disk"]
    assert pick_kinds(Request(incident_id="INC3", title="api", severity="warning",
                              annotations={"description": "DNS lookups time out; CPU "
                                                          "load high"}),
                      ANALYSIS_KINDS) == ["cpu", "network"]
    assert pick_kinds(request("Backup late"), ANALYSIS_KINDS) == []
    assert pick_kinds(request("Swap storm"), {**ANALYSIS_KINDS, "memory": ("swap",)}) == [
        "memory"]


def test_a_memory_incident_lists_the_top_processes(tmp_path: Path) -> None:
    result = LocalProvider(Analysis(provider="local", top_processes=3)).analyse(
        request("OOM killer fired"))
    assert result.findings["kinds"] == ["memory"]
    top = result.findings["processes"]["by_memory"]
    assert 1 <= len(top) <= 3 and top[0]["rss_bytes"] >= top[-1]["rss_bytes"]
    memory = [item for item in result.recommendations if item.type == "memory"]
    assert len(memory) == 1 and memory[0].title.startswith("Memory ")
    assert memory[0].priority in PRIORITIES and memory[0].actions


def test_a_disk_incident_finds_the_largest_and_oldest_files(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    for name, size, age_days in (("big.log", 5000, 1), ("old.log", 10, 400),
                                 ("small.log", 100, 2)):
        path = tmp_path / "logs" / name
        path.write_bytes(b"x" * size)
        moment = path.stat().st_mtime - age_days * 86400
        os.utime(path, (moment, moment))
    provider = LocalProvider(Analysis(provider="local", paths=(str(tmp_path),)))
    result = provider.analyse(request("Disk almost full", mountpoint="/"))
    files = result.findings["files"]
    assert [item["path"] for item in files["largest"]] == [
        str(tmp_path / "logs" / name) for name in ("big.log", "small.log", "old.log")]
    assert files["oldest"][0]["path"] == str(tmp_path / "logs" / "old.log")
    assert (files["scanned"], files["complete"]) == (3, True)
    assert result.findings["disks"] and "percent" in result.findings["disks"][0]
    kinds = {item.type for item in result.recommendations}
    assert kinds == {"disk"}
    assert not [action for item in result.recommendations for action in item.actions
                if "//" in action]  # `du -xsh /*` for the root, not `//*`
    titles = [item.title for item in result.recommendations]
    assert f"Largest and oldest files under {tmp_path}" in titles


def test_the_scan_stops_at_its_file_count_and_its_time(tmp_path: Path) -> None:
    for index in range(20):
        (tmp_path / f"f{index:02d}").write_bytes(b"x" * index)
    counted = host.scan([str(tmp_path)], max_files=5, seconds=60)
    assert (counted.files, counted.complete) == (5, False)
    ticks = iter(range(100))
    timed = host.scan([str(tmp_path)], max_files=1000, seconds=3.5,
                      monotonic=lambda: float(next(ticks)))
    assert (timed.files, timed.complete) == (2, False)  # a tick for the directory, 2 files
    whole = host.scan([str(tmp_path), str(tmp_path / "missing")], max_files=1000, seconds=60)
    assert (whole.files, whole.complete, whole.largest[0]["bytes"]) == (20, True, 19)


def test_a_local_check_s_metrics_and_past_incidents_become_recommendations() -> None:
    checked = Request(
        incident_id="INC3", title="check disk on db1 is critical", severity="critical",
        checks={"disk": {"status": "critical", "message": "/ is 97% full",
                         "metrics": {"disk_percent:/": 97.0}},
                "cpu": {"status": "ok", "message": "fine"}},
        past={"by_key": {"count": 6, "median_minutes_to_resolve": 42.0, "resolutions": [
            {"incident": 2, "resolved_by": "ann", "notes": ["rotated /var/log/app"]}]}})
    result = LocalProvider(Analysis(provider="local")).analyse(checked)
    by_type = {item.type: item for item in result.recommendations}
    assert by_type["check"].title == "Check disk is critical"
    assert by_type["check"].priority == "critical"
    assert by_type["check"].details == {"metrics": {"disk_percent:/": 97.0}}
    assert by_type["history"].title == "Fired 6 times in the last 30 days"
    assert by_type["history"].description == (
        "Median time to resolve 42 minutes. The last, INC2, resolved by ann. "
        "Notes left: rotated /var/log/app")
    assert result.probable_cause == "Check disk is critical"
    assert [item.priority for item in result.recommendations] == sorted(
        (item.priority for item in result.recommendations), key=PRIORITIES.index)


def test_an_incident_no_keyword_picks_gets_the_host_at_a_glance() -> None:
    result = LocalProvider(Analysis(provider="local", scan_time=timedelta(seconds=1))
                           ).analyse(request("Backup late"))
    assert result.findings["kinds"] == []
    assert [item.type for item in result.recommendations] == ["general"]
    assert result.summary.startswith("Backup late: looked at the host in general; 1 ")


def test_a_tree_of_empty_directories_still_meets_the_deadline(tmp_path: Path) -> None:
    for index in range(50):
        (tmp_path / f"d{index}" / "e").mkdir(parents=True)
    ticks = iter(range(1000))
    found = host.scan([str(tmp_path)], max_files=1000, seconds=10.5,
                      monotonic=lambda: float(next(ticks)))
    assert (found.files, found.complete) == (0, False)


def test_one_huge_directory_is_read_no_further_than_the_deadline(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A directory of many subdirectories (a cache, a mail spool) yields no file while it
    is listed: the deadline is checked for each entry, and the directories waiting to be
    entered are not all held at once."""
    for index in range(200):
        (tmp_path / f"d{index:03d}").mkdir()
    read = [0]
    listing = os.scandir

    class Counted:
        def __init__(self, path: str) -> None:
            self.inner = listing(path)

        def __enter__(self) -> Counted:
            return self

        def __exit__(self, *exc: object) -> None:
            self.inner.close()

        def __iter__(self) -> Counted:
            return self

        def __next__(self) -> os.DirEntry[str]:
            read[0] += 1
            return next(self.inner)

    monkeypatch.setattr(os, "scandir", Counted)
    ticks = iter(range(1000))
    found = host.scan([str(tmp_path)], max_files=1000, seconds=10.5,
                      monotonic=lambda: float(next(ticks)))
    assert (found.files, found.complete) == (0, False)
    assert read[0] <= 12


def test_read_only_and_image_file_systems_are_not_disks_that_fill(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A snap's squashfs or a mounted ISO is always 100% full: reported, it would be every
    disk incident's probable cause on an Ubuntu host."""
    def partition(device: str, mountpoint: str, fstype: str, opts: str) -> SimpleNamespace:
        return SimpleNamespace(device=device, mountpoint=mountpoint, fstype=fstype, opts=opts)
    mounts = [partition("/dev/vda1", "/", "ext4", "rw,relatime"),
              partition("/dev/loop3", "/snap/core20/2015", "squashfs", "ro,nodev,relatime"),
              partition("/dev/sr0", "/media/cdrom", "iso9660", "ro,nosuid"),
              partition("/dev/vdb", "/srv/archive", "xfs", "ro,relatime")]
    monkeypatch.setattr(psutil, "disk_partitions", lambda all=False: mounts)
    usage = {"/": 40.0, "/snap/core20/2015": 100.0, "/media/cdrom": 100.0,
             "/srv/archive": 100.0}
    monkeypatch.setattr(psutil, "disk_usage", lambda mount: SimpleNamespace(
        total=100, free=100 - int(usage[mount]), percent=usage[mount]))
    assert [disk["mount"] for disk in host.disks()] == ["/"]


def test_sizes_read_in_their_unit_and_the_oldest_file_is_named(tmp_path: Path) -> None:
    """A 5,000-byte file was '(0 MiB)' and 72 GiB free '73826 MiB free'; the oldest files
    were in the findings but in no text."""
    (tmp_path / "big.log").write_bytes(b"x" * 5000)
    old = tmp_path / "old.log"
    old.write_bytes(b"x")
    moment = datetime(2025, 5, 20, 12, tzinfo=UTC).timestamp()
    os.utime(old, (moment, moment))
    provider = LocalProvider(Analysis(provider="local", paths=(str(tmp_path),)))
    result = provider.analyse(request("Disk almost full"))
    files = next(item for item in result.recommendations if item.title.startswith("Largest"))
    assert files.description == (
        f"2 files looked at; the largest is {tmp_path / 'big.log'} (4.9 KiB), the oldest "
        f"{old} (modified 2025-05-20).")
    assert [local_size(size) for size in (0, 1023, 1024, 525_171, 77_412_446_208)] == [
        "0 B", "1023 B", "1.0 KiB", "513 KiB", "72 GiB"]


def test_router_s_own_process_is_not_among_the_top_processes() -> None:
    """Its analysis (another run's scan, this sampling) would put router at the top of a
    quiet host's CPU list: a high-CPU incident's analysis would point at itself."""
    found = host.processes(10**6, sample=0.01)
    everyone = [row["pid"] for rows in (found["by_memory"], found["by_cpu"]) for row in rows]
    assert everyone and os.getpid() not in everyone
    assert [row["pid"] for row in found["router"]] == [os.getpid()]  # kept apart


def test_a_memory_incident_points_at_the_kernel_s_oom_kills() -> None:
    """After an OOM kill the memory is free again ('Memory 4% used', low): what was killed
    and why is in the kernel's log, which the actions did not mention."""
    result = LocalProvider(Analysis(provider="local")).analyse(
        request("postgres killed by OOM killer"))
    memory = next(item for item in result.recommendations if item.type == "memory")
    assert memory.actions[0] == "journalctl -k --since '-1h' | grep -i -E 'out of memory|oom'"
    assert "kernel's log" in memory.description


def test_a_process_that_used_no_cpu_is_not_among_the_busiest() -> None:
    """'Busiest processes: ..., process_api (1, 0%)' and `top -p 1` pointed at idle ones."""
    found = host.processes(10**6, sample=0.01)
    assert all(row["cpu_percent"] > 0 for row in found["by_cpu"])
    assert len(found["by_memory"]) > len(found["by_cpu"])  # the idle ones are still there


def test_the_scan_stays_on_each_path_s_file_system() -> None:
    """As `du -x`: under / it would otherwise walk /proc (kcore: 128 TiB, 'the largest
    file'), /sys and any network mount, where one read can block past every bound."""
    inner = Path("/dev/shm")
    if not inner.is_dir() or inner.stat().st_dev == Path("/dev").stat().st_dev:
        pytest.skip("needs /dev/shm mounted apart from /dev")
    planted = inner / f"router-scan-{os.getpid()}"
    planted.write_bytes(b"x" * 4096)
    try:
        found = host.scan(["/dev"], max_files=10**6, seconds=10, count=10**6)
    finally:
        planted.unlink()
    assert found.complete
    assert str(planted) not in [item["path"] for item in found.largest]


def test_label_names_pick_no_kind() -> None:
    """A label's name says what its value is, not what happened: `namespace` (every
    Kubernetes alert) holds `space` and picked a disk analysis for a pod's 5xx rate."""
    assert pick_kinds(request("Pod api-7f9 5xx rate high", alertname="KubeHighErrorRate",
                              namespace="payments", pod="api-7f9"), ANALYSIS_KINDS) == []
    assert pick_kinds(request("x", alertname="PodOOMKilled", namespace="payments"),
                      ANALYSIS_KINDS) == ["memory"]  # a value still picks


def test_a_word_picks_only_where_a_word_or_a_camel_case_part_starts() -> None:
    """Inside words, `oom` was in 'room', `load` in 'download' and 'payload', `heap` in
    'cheap': a meeting-room service's outage got a memory analysis, a payload error a CPU
    one. A word still picks at the start of a part of a name written together."""
    for title in ("Meeting room booking down", "Downloads failing", "Bad payload from partner",
                  "Cheap tier over quota"):
        assert pick_kinds(request(title), ANALYSIS_KINDS) == [], title
    for title, kinds in (("PodOOMKilled", ["memory"]), ("node_load15 high", ["cpu"]),
                         ("HTTPTimeout on checkout", ["network"]),
                         ("NodeFileSystemAlmostFull", ["disk"]), ("CoreDNSDown", ["network"]),
                         ("HighMemoryUsage", ["memory"]), ("KubeCPUOvercommit", ["cpu"]),
                         ("inodes exhausted", ["disk"]), ("OOM", ["memory"])):
        assert pick_kinds(request(title), ANALYSIS_KINDS) == kinds, title
