"""The silences page reads the silences in force or to come and only the latest expired
ones, and says how many more ended (issue 22: a page's read stays bounded however long
the history)."""

from __future__ import annotations

import re
from datetime import timedelta

from router.alerts.model import Silence, SilenceMatcher
from router.store import Transaction
from router.web import silences as silence_pages
from tests.web.test_forms import NOW, Site, site
from tests.web.test_pages import text_of

__all__ = ["site"]


async def test_the_silences_page_lists_at_most_its_bound_of_expired(site: Site) -> None:
    def work(transaction: Transaction) -> None:
        for number in range(silence_pages.EXPIRED_SHOWN + 7):
            ends_at = NOW - timedelta(minutes=1_000 - number)
            transaction.add_silence(Silence(
                id=f"S{number:04}",
                matchers=(SilenceMatcher(name="team", operator="=", value="api"),),
                starts_at=ends_at - timedelta(hours=1), ends_at=ends_at, reason="r",
                created_by="ann"))

    await site.engine.store.write(work)
    page = await site.page("/ui/silences", await site.session())
    assert page.status_code == 200, page.text
    shown = re.findall(r'<tr id="S(\d+)"', page.text)
    newest = silence_pages.EXPIRED_SHOWN + 6
    assert [int(number) for number in shown] == list(range(newest, 6, -1))
    assert f"Expired ({silence_pages.EXPIRED_SHOWN + 7})" in text_of(page)
    assert "7 older expired silences are not shown" in text_of(page)
