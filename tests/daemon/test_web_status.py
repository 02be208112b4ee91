"""daemon/web_status.py: the config revision the status page shows."""

from __future__ import annotations

from pathlib import Path

from router.daemon.web_status import revision


def test_the_revision_changes_with_any_config_file(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_text("people: []\n")
    second.write_text("channels: []\n")
    files = (str(first), str(second))
    before = revision(files)
    assert len(before) == 12 and int(before, 16) >= 0
    assert revision(files) == before  # the same files, the same revision
    second.write_text("channels: [{id: log, type: log}]\n")
    assert revision(files) != before
    assert revision((str(second), str(first))) != revision(files)  # names count, in order


def test_an_unreadable_file_says_so(tmp_path: Path) -> None:
    assert revision((str(tmp_path / "gone.yaml"),)) == "unreadable"
