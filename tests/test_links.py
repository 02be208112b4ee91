"""router/links.py: signed, expiring links, and the key kept in the state directory."""

from __future__ import annotations

import multiprocessing
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from router import links

KEY = bytes(range(32))
NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
EXPIRES = NOW + timedelta(hours=24)


def parts(url: str) -> tuple[str, str, str]:
    """Path, expires and signature of a link."""
    split = urlsplit(url)
    query = parse_qs(split.query)
    return split.path, query["expires"][0], query["signature"][0]


def test_a_link_names_the_incident_its_expiry_and_a_url_safe_signature() -> None:
    url = links.make_link(KEY, "https://router.example.com/", "INC3", EXPIRES)
    path, expires, signature = parts(url)
    assert url.startswith("https://router.example.com/v1/incidents/INC3/acknowledge-link?")
    assert path == "/v1/incidents/INC3/acknowledge-link"
    assert expires == str(int(EXPIRES.timestamp())) == "1795521600"
    assert len(signature) == 43
    assert set(signature) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                 "0123456789-_")
    assert links.check(KEY, "INC3", expires, signature, NOW) == EXPIRES


def test_the_signature_is_hmac_sha256_over_action_incident_and_expiry() -> None:
    # a known answer, so a change of format is a deliberate one (links already sent break)
    assert links.sign(KEY, "acknowledge", "INC3", 1795521600) == (
        "m5MO-oPJIp5TjAEIKVm6PcXFu45_Ydf59XmzkbUm_v4")


def test_a_link_works_until_its_expiry_and_not_at_it() -> None:
    _, expires, signature = parts(links.make_link(KEY, "http://r", "INC3", EXPIRES))
    assert links.check(KEY, "INC3", expires, signature, EXPIRES - timedelta(seconds=1))
    with pytest.raises(links.LinkRefused) as refused:
        links.check(KEY, "INC3", expires, signature, EXPIRES)
    assert refused.value.expired
    assert refused.value.reason == "the link expired at 2026-11-24 12:00 UTC"


@pytest.mark.parametrize(("change", "reason"), [
    ({"incident": "INC4"}, "the link's signature does not match: it was altered, or signed "
                           "with another key"),
    ({"expires": "1795521601"}, "the link's signature does not match: it was altered, or "
                                "signed with another key"),
    ({"key": bytes(32)}, "the link's signature does not match: it was altered, or signed "
                         "with another key"),
    ({"action": "resolve"}, "the link's signature does not match: it was altered, or signed "
                            "with another key"),
    ({"signature": "A" * 43}, "the link's signature does not match: it was altered, or "
                              "signed with another key"),
    ({"signature": "short"}, "the link's signature is malformed (was it cut when copied?)"),
    ({"signature": "é" * 43}, "the link's signature is malformed (was it cut when copied?)"),
    ({"signature": None}, "the link is incomplete: it needs both expires and signature (was "
                          "it cut when copied?)"),
    ({"expires": ""}, "the link is incomplete: it needs both expires and signature (was it "
                      "cut when copied?)"),
    ({"expires": "-5"}, "the link's expiry is not a number of seconds"),
    ({"expires": "1e9"}, "the link's expiry is not a number of seconds"),
    ({"expires": "٣"}, "the link's expiry is not a number of seconds"),  # a digit, not ASCII
    ({"expires": "9" * 40}, "the link's expiry is not a number of seconds"),
])
def test_an_altered_or_broken_link_is_refused(change: dict[str, object], reason: str) -> None:
    _, expires, signature = parts(links.make_link(KEY, "http://r", "INC3", EXPIRES))
    given = {"incident": "INC3", "expires": expires, "signature": signature, "key": KEY,
             "action": "acknowledge", **change}
    with pytest.raises(links.LinkRefused) as refused:
        links.check(given["key"], given["incident"], given["expires"],  # type: ignore[arg-type]
                    given["signature"], NOW, action=given["action"])  # type: ignore[arg-type]
    assert refused.value.reason == reason
    assert not refused.value.expired


def test_a_configured_secret_is_the_key_as_utf8() -> None:
    key = links.key_from_secret("correct horse battery staple")
    url = links.make_link(key, "http://r", "INC1", EXPIRES)
    _, expires, signature = parts(url)
    assert links.check(b"correct horse battery staple", "INC1", expires, signature, NOW)


def test_the_state_key_is_made_once_with_mode_0600_and_kept(tmp_path: Path) -> None:
    first = links.read_or_create_key(tmp_path)
    assert len(first) == 32
    path = tmp_path / "link.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == first.hex() + "\n"
    assert links.read_or_create_key(tmp_path) == first  # a restart: links still hold
    assert sorted(item.name for item in tmp_path.iterdir()) == ["link.key"]  # no leftovers
    other = tmp_path / "other"
    other.mkdir()
    assert links.read_or_create_key(other) != first


def _make_key(directory: str) -> str:
    return links.read_or_create_key(Path(directory)).hex()


def test_processes_that_start_together_agree_on_one_key(tmp_path: Path) -> None:
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        keys = pool.map(_make_key, [str(tmp_path)] * 8)
    assert len(set(keys)) == 1
    assert (tmp_path / "link.key").read_text().strip() == keys[0]


@pytest.mark.parametrize("content", ["", "not hex", "ab" * 16 + "\n", "zz" * 32])
def test_a_damaged_key_file_is_a_clear_error(tmp_path: Path, content: str) -> None:
    (tmp_path / "link.key").write_text(content)
    with pytest.raises(ValueError) as error:
        links.read_or_create_key(tmp_path)
    assert str(error.value) == (
        f"{tmp_path / 'link.key'} does not hold a link key (64 hex digits); remove it to have "
        "a new one made (links already sent stop working)")


@pytest.mark.parametrize(("public_url", "incident", "expected"), [
    ("https://router.example.com", "INC3", "https://router.example.com/ui/incidents/INC3"),
    ("https://router.example.com/", "INC3", "https://router.example.com/ui/incidents/INC3"),
    ("https://example.com/router/", "INC42", "https://example.com/router/ui/incidents/INC42"),
    ("http://localhost:9080", "a/b c", "http://localhost:9080/ui/incidents/a%2Fb%20c"),
])
def test_an_incident_link_opens_its_page_in_the_web_interface(
        public_url: str, incident: str, expected: str) -> None:
    """Slack's "View Details" and the email's "Incident:" link: a page a person reads, not
    the JSON API (which answers 401 to a browser once tokens are on)."""
    assert links.incident_page(public_url, incident) == expected
