"""`router passwd`: make a web user's `password_hash` (room: cli; imports config, cli_support).

The password is asked twice on the terminal (getpass: not echoed, not in the shell's
history), or read as one line from standard input with `--stdin` (for scripts:
`router passwd --stdin < file > secrets/ann.hash`). Only the hash is printed, on a line of
its own, so it can go straight into `users[].password_hash` or a file read with
`${file:...}`. Exit codes: 0 printed; 1 the passwords differ, or one is too short or empty.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO

from router.cli.support import EXIT_INVALID, EXIT_OK
from router.config.passwords import hash_password

MIN_LENGTH = 8
"""Shorter passwords fall to a guess faster than login throttling can slow it."""


_NOT_UTF8 = "the password is not UTF-8 text"


class PasswordRefused(Exception):
    """A password that will not be hashed; the message says why."""


def add_commands(commands: Any) -> None:
    passwd = commands.add_parser(
        "passwd", help="print a password hash for a web user (users[].password_hash)",
        description="Ask for a password twice (or read one line with --stdin) and print "
                    "its scrypt hash for users[].password_hash. exit status: 0 printed; 1 "
                    "the passwords differ or one is too short.")
    passwd.add_argument("--user", metavar="NAME", help="whose password (named in the prompt)")
    passwd.add_argument("--stdin", action="store_true",
                        help="read the password as one line from standard input")
    passwd.set_defaults(handler=run_passwd)


def run_passwd(arguments: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    try:
        password = (_read_line(sys.stdin) if arguments.stdin
                    else _ask_twice(arguments.user))
        _check(password)
    except PasswordRefused as refused:
        print(f"router passwd: {refused}", file=err)
        return EXIT_INVALID
    print(hash_password(password), file=out)
    return EXIT_OK


def _read_line(stream: TextIO) -> str:
    try:
        return stream.readline().removesuffix("\n").removesuffix("\r")
    except UnicodeDecodeError:
        raise PasswordRefused(_NOT_UTF8) from None


def _ask_twice(user: str | None) -> str:
    whose = f" for {user}" if user else ""
    try:
        first = getpass.getpass(f"Password{whose}: ")
        second = getpass.getpass("Again: ")
    except EOFError:
        raise PasswordRefused("no password given") from None
    if first != second:
        raise PasswordRefused("the two passwords differ; nothing was printed")
    return first


def _check(password: str) -> None:
    try:
        password.encode("utf-8")
    except UnicodeEncodeError:  # bytes a surrogateescape stream (a C locale) let through
        raise PasswordRefused(_NOT_UTF8) from None
    if len(password) < MIN_LENGTH:
        raise PasswordRefused(f"a password must be at least {MIN_LENGTH} characters")
