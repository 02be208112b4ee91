"""The `checks:` section: built with each type's defaults, and `router validate`'s rules
(thresholds in order, a command that exists and is executable, a URL, a key of another
type, cpu samples within the timeout, ids that exist and are unique) with file:line:col."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from router.config import load_config
from router.config.model import Thresholds
from tests.config.support import problems, write


def test_checks_are_built_with_their_type_s_defaults(tmp_path: Path) -> None:
    plugin = write(tmp_path, "check_ok", "#!/bin/sh\necho OK\n")
    plugin.chmod(0o755)
    write(tmp_path, "config/checks.yaml", f"""
        services:
          - {{id: host, attach_checks: [disk]}}
        routes:
          - {{match: ['alertname="DiskFull"'], service: host, attach_checks: [memory]}}
        checks:
          - {{id: disk, type: disk, service: host, paths: [/], inodes: {{critical: 95}}}}
          - {{id: memory, type: memory, interval: 30s, timeout: 2s, warning: 70}}
          - {{id: sshd, type: process, names: [sshd]}}
          - {{id: plugin, type: command, command: [{plugin}, -w, "1"]}}
        """)
    config = load_config([tmp_path / "config"])
    disk, memory, sshd, plugin_check = (config.checks[name]
                                        for name in ("disk", "memory", "sshd", "plugin"))
    assert (disk.thresholds.warning, disk.thresholds.critical, disk.paths, disk.interval,
            disk.timeout, disk.service) == (80, 90, ("/",), timedelta(minutes=1),
                                             timedelta(seconds=10), "host")
    assert (disk.inodes.warning, disk.inodes.critical) == (None, 95)  # type: ignore[union-attr]
    assert (memory.thresholds.warning, memory.thresholds.critical, memory.interval,
            memory.timeout, memory.swap) == (70, 95, timedelta(seconds=30),
                                             timedelta(seconds=2), None)
    assert sshd.thresholds == Thresholds(critical=0, inverted=True, where=sshd.thresholds.where)
    assert plugin_check.command == (str(plugin), "-w", "1")
    assert config.services["host"].attach_checks == ("disk",)
    assert config.routes[0].attach_checks == ("memory",)


def test_validate_names_each_problem_at_its_place(tmp_path: Path) -> None:
    not_executable = write(tmp_path, "check_plain", "#!/bin/sh\n")
    path = write(tmp_path, "config/checks.yaml", f"""
        services:
          - {{id: host, attach_checks: [disk, dsik]}}
        checks:
          - id: disk
            type: disk
            warning: 95
            critical: 90
            swap: {{warning: 1}}
          - id: sshd
            type: process
            names: [sshd]
            warning: 0
            critical: 1
          - {{id: gone, type: command, command: [/nonexistent/check_x]}}
          - {{id: plain, type: command, command: [{not_executable}], critical: 2}}
          - {{id: web, type: http, url: "ftp://example.com/"}}
          - {{id: cpu, type: cpu, samples: 10}}
          - {{id: db, type: network, host: db1, port: 5432, service: nope}}
          - {{id: spare, type: memory}}
          - {{id: spare, type: memory}}
        """)
    assert problems([tmp_path / "config"]) == [
        f"{path}:2:38: services[0].attach_checks[1]: no check with id 'dsik'",
        f"{path}:6:14: checks[0].warning: warning (95) must be at most critical (90)",
        f"{path}:8:11: checks[0].swap: swap is for memory checks, not disk checks",
        f"{path}:12:14: checks[1].warning: warning (0) must be at least critical (1)",
        f"{path}:14:41: checks[2].command[0]: no program '/nonexistent/check_x' there",
        f"{path}:15:42: checks[3].command[0]: {str(not_executable)!r} is not executable "
        "(chmod +x, or name its interpreter first)",
        f"{path}:15:{42 + len(str(not_executable)) + 13}: checks[3].critical: a command check "
        "grades itself by its exit status (0 ok, 1 warning, 2 critical, 3 unknown); it takes "
        "no thresholds",
        f"{path}:16:32: checks[4].url: 'ftp://example.com/' is not an http:// or https:// URL "
        "with a host",
        f"{path}:17:35: checks[5].samples: 10 one-second samples do not fit in the timeout of "
        "10s; lower samples or raise timeout",
        f"{path}:18:61: checks[6].service: no service with id 'nope'",
        f"{path}:20:5: checks[8]: id 'spare' is defined twice: here and at {path}:19:5",
    ]


def test_a_disk_check_s_paths_are_absolute(tmp_path: Path) -> None:
    """A relative path would be measured from wherever the daemon was started."""
    path = write(tmp_path, "config/checks.yaml", """
        checks:
          - {id: disk, type: disk, paths: [/, var/lib]}
        """)
    assert problems([tmp_path / "config"]) == [
        f"{path}:2:39: checks[0].paths[1]: expected an absolute path such as /var/lib, "
        "got 'var/lib'"]
