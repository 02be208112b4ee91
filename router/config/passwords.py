"""Password hashes for the web interface's users (room: config; imports nothing of router).

A user's `password_hash` is text the config holds, so its format belongs to the config
language: `router passwd` makes it, the config build checks it is one (a plain password
written there is an error), and the web's login verifies against it. The format describes
itself, `scrypt$N$r$p$SALT$HASH` (salt and hash in unpadded base64), so the cost can be
raised later without breaking hashes already written.

scrypt comes from hashlib (OpenSSL): memory-hard like argon2, and no new dependency
(argon2-cffi would add a C extension for no property this daemon needs).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

SCHEME = "scrypt"
COST = 2**15
"""scrypt's N: 32 MiB of memory and some 50-100 ms a hash at r=8, as OWASP advises."""
BLOCK_SIZE = 8
PARALLELISM = 1
SALT_BYTES = 16
HASH_BYTES = 32
MAX_COST = 2**20
"""The largest N a hash may ask for."""
MAX_BLOCK_SIZE = 32
MAX_PARALLELISM = 16
MAX_MEMORY = 2**30
"""The most memory (128 * N * r bytes) a hash may make a login take: a gigabyte, which
N=2^20 at the usual r=8 reaches (r=32 with it would take 4 GiB)."""
MAX_HASH_BYTES = 64
"""The longest derived key a hash may hold (router writes 32 bytes): scrypt's last step
costs in proportion to it."""
_FORMAT = re.compile(r"scrypt\$([0-9]{1,8})\$([0-9]{1,3})\$([0-9]{1,3})\$"
                     r"([A-Za-z0-9+/]{16,})\$([A-Za-z0-9+/]{16,})")
EXPECTED = "a hash printed by `router passwd` (scrypt$N$r$p$SALT$HASH)"


@dataclass(frozen=True, slots=True)
class PasswordHash:
    """A parsed hash: scrypt's parameters, the salt and the derived key."""

    cost: int
    block_size: int
    parallelism: int
    salt: bytes
    digest: bytes

    def __str__(self) -> str:
        return "$".join((SCHEME, str(self.cost), str(self.block_size), str(self.parallelism),
                         _encode(self.salt), _encode(self.digest)))


def hash_password(password: str, *, salt: bytes | None = None, cost: int = COST) -> str:
    """The text to write as a user's `password_hash`; a fresh random salt unless given
    (tests pass a small `cost` to stay fast)."""
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    digest = _derive(password, salt, cost, BLOCK_SIZE, PARALLELISM, HASH_BYTES)
    return str(PasswordHash(cost, BLOCK_SIZE, PARALLELISM, salt, digest))


def parse_hash(text: str) -> PasswordHash:
    """The hash `text` holds.

    Raises:
        ValueError: it is not a hash of this format, or asks for more than the bounds;
            the message never repeats `text` (it may be a password written by mistake).
    """
    match = _FORMAT.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"expected {EXPECTED}; a plain password must never be written in "
                         "the config")
    cost, block_size, parallelism = (int(group) for group in match.groups()[:3])
    if cost < 2 or cost & (cost - 1) or cost > MAX_COST:
        raise ValueError(f"scrypt's N must be a power of 2 from 2 to {MAX_COST}, got {cost}")
    if not 1 <= block_size <= MAX_BLOCK_SIZE or not 1 <= parallelism <= MAX_PARALLELISM:
        raise ValueError(f"scrypt's r must be 1 to {MAX_BLOCK_SIZE} and p 1 to "
                         f"{MAX_PARALLELISM}, got r={block_size} p={parallelism}")
    if 128 * cost * block_size > MAX_MEMORY:
        raise ValueError(f"scrypt's N and r may ask for at most {MAX_MEMORY >> 20} MiB "
                         f"(128 * N * r bytes), got {(128 * cost * block_size) >> 20} MiB")
    try:
        salt, digest = _decode(match.group(4)), _decode(match.group(5))
    except binascii.Error:
        raise ValueError(f"expected {EXPECTED}: its salt or hash is not base64") from None
    if len(digest) > MAX_HASH_BYTES:
        raise ValueError(f"expected {EXPECTED}: its hash may be at most {MAX_HASH_BYTES} "
                         "bytes")
    return PasswordHash(cost, block_size, parallelism, salt, digest)


def verify(password: str, stored: str) -> bool:
    """Whether `password` is the one `stored` was made from; the digests are compared in
    constant time. A stored text that is not a hash verifies nothing."""
    try:
        parsed = parse_hash(stored)
    except ValueError:
        return False
    digest = _derive(password, parsed.salt, parsed.cost, parsed.block_size,
                     parsed.parallelism, len(parsed.digest))
    return hmac.compare_digest(digest, parsed.digest)


def _derive(password: str, salt: bytes, cost: int, block_size: int, parallelism: int,
            length: int) -> bytes:
    memory = 128 * block_size * (cost + parallelism + 2)  # scrypt's need, with room to spare
    return hashlib.scrypt(password.encode("utf-8"), salt=salt, n=cost, r=block_size,
                          p=parallelism, maxmem=memory + 1024 * 1024, dklen=length)


def _encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _decode(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
