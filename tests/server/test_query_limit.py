"""`Request.limit`: the `limit` query parameter every listing route reads, one check for all
(a digit Python's isdigit() accepts but int() refuses, such as "²", was a 500)."""

from __future__ import annotations

import pytest

from router.errors import BadRequest
from router.server.routes import Request


def request(query: dict[str, tuple[str, ...]]) -> Request:
    return Request(method="GET", path="/v1/checks/disk/runs", query=query, headers={},
                   body=b"", params={}, client=None)


def test_the_limit_is_read_or_defaulted() -> None:
    assert request({"limit": ("7",)}).limit(100, 1000) == 7
    assert request({}).limit(100, 1000) == 100


@pytest.mark.parametrize("text", ["0", "1001", "-1", "x", "²", "١٢", ""])
def test_a_limit_out_of_range_or_not_ascii_digits_is_a_400_naming_it(text: str) -> None:
    with pytest.raises(BadRequest) as caught:
        request({"limit": (text,)}).limit(100, 1000)
    assert (caught.value.field, caught.value.message) == (
        "limit", "expected a whole number from 1 to 1000")
