"""Which alert a label set is (room: alerts; imports nothing of router).

- `alert_identity`: router's own, computed for every alert ingested: `x` and xxh3-64 of the
  sorted labels as JSON (JSON keeps any two label sets apart). It names an alert in its
  incident's firing set, and is the dedup key of Alertmanager's alerts (both its formats).
  Fast (about 1 µs), and not a security boundary: only a set key.
- `fingerprint`: Alertmanager's (prometheus/common `model.LabelSet.Fingerprint`): 64-bit
  FNV-1a over the label names in sorted order, each name and value followed by the byte 0xff,
  as 16 lowercase hex digits. In pure Python it costs about 10-17 µs for a typical alert, more
  than the rest of parsing it, so it is computed only where Alertmanager's users see it (the
  `fingerprint` of GET /api/v2/alerts) and to find incidents keyed by it before issue 15.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

import msgspec
import xxhash

_ENCODE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_ENCODE_FAST = msgspec.json.Encoder().encode


def alert_identity(labels: Mapping[str, str]) -> str:
    """`x` and xxh3-64 of the sorted label set as JSON; the `x` tells it from the 16 hex
    digits of identities and dedup keys stored before issue 15."""
    try:
        canonical = _ENCODE_FAST(sorted(labels.items()))
    except UnicodeEncodeError:  # a lone surrogate, which no inbound format lets through
        canonical = _ENCODE(sorted(labels.items())).encode("utf-8", "surrogatepass")
    return "x" + xxhash.xxh3_64_hexdigest(canonical)


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's fingerprint of a label set (see the module docstring); linear in the
    labels' size."""
    items = tuple(sorted(labels.items()))
    if sum(len(name) + len(value) for name, value in items) > _CACHED_SIZE:
        return _fingerprint(items)
    known = _fingerprints.get(items)
    if known is None:
        if len(_fingerprints) >= _CACHED_SETS:
            _fingerprints.clear()
        known = _fingerprints[items] = _fingerprint(items)
    return known


# Prometheus re-sends every firing alert each evaluation cycle: remember recent label sets.
# Only small ones, so the cache holds at most _CACHED_SETS * _CACHED_SIZE characters of keys
# (a few MB) however large the label sets senders send.
_CACHED_SETS = 4096
_CACHED_SIZE = 1024
_fingerprints: dict[tuple[tuple[str, str], ...], str] = {}


def _fingerprint(items: tuple[tuple[str, str], ...]) -> str:
    data = b"".join(part.encode("utf-8") + b"\xff" for name, value in items
                    for part in (name, value))
    digest = _FNV_OFFSET
    for byte in data:
        # Masked at every byte: a digest left to grow over a part made each multiplication
        # cost as much as the bytes before it, quadratic in a label's length (a 100 KB label
        # took 13 s). One pass over the bytes, each step on a number of at most 104 bits.
        digest = ((digest ^ byte) * _FNV_PRIME) & _MASK
    return f"{digest:016x}"


_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = 0xFFFFFFFFFFFFFFFF
