"""The state directory's modes and its admin token (room: store; the standard library only).

The state directory holds the store (every incident, alert and page), the link key and the
admin token: nobody but router's own user (and, if the operator chooses, its group) may read
them. So the directory is made 0750 and its files 0600; an existing one that allows more
(an older router made router.db 0644 in a 0755 directory) is tightened at start, with a log
line. A mode within those bounds (0640 for a group of readers) is left as the operator set it.

The admin token lets the CLI on the host (`router reload`) use the daemon's API with no
set-up: the daemon writes it on first start to `admin.token`, 0600, and accepts it with every
scope; whoever can read the file may do anything the API allows, as they could already read
and write the store beside it.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

DIRECTORY_MODE = 0o750
FILE_MODE = 0o600
ADMIN_TOKEN_FILE = "admin.token"
_MOST_FOR_FILES = 0o640  # a file allowing more than this is set to FILE_MODE
_TOKEN_BYTES = 32


def prepare_directory(directory: Path) -> None:
    """Create the state directory 0750, or tighten an existing one that allows more."""
    if not directory.exists():
        directory.mkdir(parents=True, mode=DIRECTORY_MODE)
        directory.chmod(DIRECTORY_MODE)  # mkdir's mode passes through the umask
        return
    _tighten(directory, DIRECTORY_MODE, DIRECTORY_MODE)


def tighten_files(paths: Iterable[Path]) -> None:
    """Set each existing file that allows more than 0640 to 0600, saying so in the log."""
    for path in paths:
        _tighten(path, _MOST_FOR_FILES, FILE_MODE)


def create_private(path: Path) -> None:
    """Create an empty file 0600 unless one exists (SQLite gives its -wal and -shm files
    the mode of the database file)."""
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))


def _tighten(path: Path, most: int, tight: int) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if mode & ~most:
        path.chmod(tight)
        logger.warning("%s was mode %04o, readable or writable by other users: set to %04o",
                       path, mode, tight, extra={"path": str(path), "mode": f"{mode:04o}"})


def read_or_create_admin_token(directory: Path) -> str:
    """The admin token in `directory/admin.token`, created (random, mode 0600) if absent.
    Made under a temporary name and linked into place, so a reader never sees half a token
    and two daemons starting at once agree on one.

    Raises:
        OSError: the file cannot be read or written.
    """
    path = directory / ADMIN_TOKEN_FILE
    found = read_admin_token(directory)
    if found:
        tighten_files([path])
        return found
    temporary = directory / f".{ADMIN_TOKEN_FILE}.{os.getpid()}"
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, FILE_MODE)
    try:
        with os.fdopen(descriptor, "w") as file:
            file.write(secrets.token_urlsafe(_TOKEN_BYTES) + "\n")
            file.flush()
            os.fsync(file.fileno())
        if path.exists():  # empty: replace it
            path.unlink()
        with contextlib.suppress(FileExistsError):  # another process won: use its token
            os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    logger.info("wrote the admin token for the CLI to %s (mode 0600)", path,
                extra={"path": str(path)})
    return read_admin_token(directory) or ""


def read_admin_token(directory: Path) -> str | None:
    """The admin token the daemon wrote, or None when there is none (yet).

    Raises:
        PermissionError: the file exists but this user may not read it.
    """
    try:
        return (directory / ADMIN_TOKEN_FILE).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None
