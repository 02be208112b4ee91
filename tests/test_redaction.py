"""URLs as router shows them (router/redaction.py): without user info, query or fragment,
whether or not they parse (issue 13, item 4: `htp//ops:hunter2@...` was shown whole)."""

from __future__ import annotations

import pytest

from router.redaction import display_url, redact_urls


@pytest.mark.parametrize(("url", "shown"), [
    ("https://ops:hunter2@hooks.example.com/x?token=hunter2#frag", "https://hooks.example.com/x"),
    ("http://hooks.example.com:8080/a/b", "http://hooks.example.com:8080/a/b"),
    ("htp//ops:hunter2@example.com/hook", "htp//example.com/hook"),  # the URL
    ("htp://ops:hunter2@example.com/x?key=hunter2", "htp://example.com/x"),
    ("ops:hunter2@example.com/hook", "example.com/hook"),  # no scheme at all
    ("http://[ops:hunter2@x/", "http://x/"),  # does not parse: urlsplit raises
    ("https://ops@hunter2@example.com/", "https://example.com/"),  # @ in the password
    ("https://example.com/?hunter2", "https://example.com/"),
    # a password holding what ends a URL's parts (issue 18 follow-up: `/` showed `ops:pa`)
    ("postgresql://ops:pa/ss@db/router", "postgresql://db/router"),
    ("postgresql://ops:pa?ss@db:5432/router", "postgresql://db:5432/router"),
    ("postgresql://ops:pa#ss@db/router?sslmode=require", "postgresql://db/router"),
    ("postgresql://ops:p@s:s/w?o#r@d@db/router", "postgresql://db/router"),
    ("postgresql://ops:p%2Fa%40s%3Fs%23@db/router", "postgresql://db/router"),
    ("postgresql://ops:a//b@db/router", "postgresql://db/router"),
    ("htp//ops:pa/ss@example.com/hook", "htp//example.com/hook"),
    ("ops:pa/ss@example.com/hook", "example.com/hook"),
    ("postgresql://ops:12/34@127.0.0.1:1/db", "postgresql://127.0.0.1:1/db"),
])
def test_display_url_drops_user_info_and_query_of_any_url(url: str, shown: str) -> None:
    assert display_url(url) == shown


def test_no_part_of_any_password_is_ever_shown() -> None:
    """Whatever the password holds (`/`, `@`, `:`, `?`, `#`, `%` escapes), the URL is shown
    from its host on, in a URL or in a message that holds one."""
    import random
    alphabet = "ab/@:?#%2F40[]."
    randomly = random.Random(18)
    for _ in range(20_000):
        password = "".join(randomly.choice(alphabet) for _ in range(randomly.randrange(1, 16)))
        url = f"postgresql://ops:{password}@db.example:5432/router"
        assert display_url(url) == "postgresql://db.example:5432/router", repr(url)
        assert redact_urls(f"cannot open {url}: refused") == (
            "cannot open postgresql://db.example:5432/router: refused"), repr(url)


@pytest.mark.parametrize(("text", "shown"), [
    ("htp//ops:hunter2@example.com/hook: UnsupportedProtocol: Request URL is missing an "
     "'http://' or 'https://' protocol.",
     "htp//example.com/hook: UnsupportedProtocol: Request URL is missing an 'http://' or "
     "'https://' protocol."),
    ("cannot connect to 'https://ops:hunter2@example.com/x?token=abc' now",
     "cannot connect to 'https://example.com/x' now"),
    ('{"url": "http://a:b@example.com/?k=v", "n": 1}', '{"url": "http://example.com/", "n": 1}'),
    ("relay ops:hunter2@mail.example.com refused", "relay mail.example.com refused"),
    ("ann@example.com via smtp.example.com:587", "ann@example.com via smtp.example.com:587"),
    ("INC3: acknowledged by slack:ann at 09:30", "INC3: acknowledged by slack:ann at 09:30"),
    ("listening on http://127.0.0.1:9080 and unix:state/router.sock",
     "listening on http://127.0.0.1:9080 and unix:state/router.sock"),
])
def test_redact_urls_in_text(text: str, shown: str) -> None:
    assert redact_urls(text) == shown


def test_punctuation_after_a_url_stays() -> None:
    assert redact_urls("htp//a:b@example.com/x?k=v: failed.") == "htp//example.com/x: failed."


def _whole_text(text: str) -> str:
    """redact_urls as it was: both patterns over the whole text at once."""
    from router import redaction
    if "//" not in text and "@" not in text:
        return text
    text = redaction._URL.sub(redaction._display_match, text)
    return redaction._USER_INFO.sub("", text)


def test_redacting_word_by_word_is_redacting_the_whole_text() -> None:
    import random
    alphabet = 'ab:/@?#.+-1 \t\n"\'<>=,;)xyz'
    randomly = random.Random(15)
    texts = ["".join(randomly.choice(alphabet) for _ in range(randomly.randrange(1, 40)))
             for _ in range(20_000)]
    texts.append('{"message": "notification delivered: sink http://127.0.0.1:4/hook", '
                 '"target": "https://ops:pw@example.com/x?token=t", "trace_id": "abc"}')
    for text in texts:
        assert redact_urls(text) == _whole_text(text), repr(text)


def test_provider_settings_lose_every_secret_like_value() -> None:
    from router.redaction import redact_settings
    assert redact_settings({
        "provider": "openai_compatible", "base_url": "http://ops:pw@models:8080/x?token=t",
        "api_key": "sk-1", "Client_Secret": "s", "password": "p", "apiVersion": "2",
        "max_tokens": 100, "nested": {"access_token": "t", "model": "llama"}}) == {
        "provider": "openai_compatible", "base_url": "http://models:8080/x",
        "api_key": "<redacted>", "Client_Secret": "<redacted>", "password": "<redacted>",
        "apiVersion": "<redacted>", "max_tokens": "<redacted>",
        "nested": {"access_token": "<redacted>", "model": "llama"}}
