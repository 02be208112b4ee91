"""The run-time overrides page over real loopback HTTP and its form handlers called directly
(router/web/overrides.py): the list, the empty states, bad filters, add and remove with the
user's name, and a refused form's errors shown beside their fields."""

from __future__ import annotations

from datetime import UTC, datetime

from router.engine import overrides
from router.engine.overrides import Added
from router.web.fields import Refused
from router.web.overrides import OverridePages, add_override, remove_override
from router.web.pages import Pages
from tests.web.responder_site import Site, row_text, site, text_of

__all__ = ["site"]
COVER = {"rota": "web", "person": "cy", "replaces": "ann", "from": "2026-03-25T13:00",
         "until": "2026-03-25T17:00", "reason": "ann at the <dentist>"}


async def test_the_add_handler_stores_an_override_made_by_the_user(site: Site) -> None:
    added = await add_override(site.engine, "web:ben", COVER)
    assert isinstance(added, Added)
    override = added.override
    assert (override.person, override.replaces, override.created_by) == ("cy", "ann", "web:ben")
    assert override.start == datetime(2026, 3, 25, 12, 0, tzinfo=UTC)  # 13:00 in Berlin
    page = await site.get("/ui/overrides")
    assert page.status_code == 200
    assert row_text(page, override.id) == (
        f"{override.id} active web cy ann Wed 2026-03-25 13:00 CET Wed 2026-03-25 17:00 CET "
        "ann at the <dentist> web:ben Remove")
    assert "ann at the &lt;dentist&gt;" in page.text
    assert f'action="/ui/overrides/{override.id}/remove"' in page.text


async def test_the_add_handler_refuses_by_field(site: Site) -> None:
    assert await add_override(site.engine, "ben", {**COVER, "until": ""}) == Refused(
        {"until": "is required"})
    assert await add_override(site.engine, "ben", {**COVER, "person": "zed"}) == Refused(
        {"person": "no person 'zed' (known: ann, ben, cy)"})
    refused = await add_override(site.engine, "ben", {**COVER, "from": "soon"})
    assert isinstance(refused, Refused) and list(refused.errors) == ["from"]
    refused = await add_override(site.engine, "ben", {**COVER, "rota": "nope"})
    assert isinstance(refused, Refused) and list(refused.errors) == ["rota"]
    assert await overrides.overrides(site.engine) == []


async def test_the_remove_handler_removes_and_refuses_an_unknown_id(site: Site) -> None:
    added = await add_override(site.engine, "ben", COVER)
    assert isinstance(added, Added)
    removed = await remove_override(site.engine, "ben", added.override.id.upper())
    assert not isinstance(removed, Refused) and removed.removed_at is not None
    assert await remove_override(site.engine, "ben", added.override.id) == Refused(
        {"id": f"no override {added.override.id} in force or to come"})
    page = await site.get("/ui/overrides")
    assert "No run-time overrides in force or to come." in text_of(page)
    everything = await site.get("/ui/overrides", params={"all": "1", "rota": "web"})
    assert row_text(everything, added.override.id).startswith(f"{added.override.id} removed")
    assert "Remove" not in row_text(everything, added.override.id)


async def test_a_refused_form_shows_its_errors_beside_the_fields_it_names(site: Site) -> None:
    pages = OverridePages(site.engine, Pages(site.engine).renderer)
    refused = await add_override(site.engine, "ben", {**COVER, "reason": " "})
    assert isinstance(refused, Refused)
    answer = await pages.show("", False, refused, {**COVER, "reason": "<x>"})
    body = answer.body.decode()
    assert answer.status == 400
    assert '<span class="error" id="error-reason">say why: an override needs a reason</span>' \
        in body
    assert 'name="reason" type="text" value="&lt;x&gt;"' in body
    assert '<option value="cy" selected>' in body


async def test_the_empty_page_and_bad_filters(site: Site) -> None:
    page = await site.get("/ui/overrides", params={"rota": "web"})
    assert "No run-time overrides in force or to come for web." in text_of(page)
    assert '<form class="filters" method="post" action="/ui/overrides">' in page.text
    for name, value in (("rota", "nope<b>"), ("all", "maybe")):
        bad = await site.get("/ui/overrides", params={name: value})
        assert bad.status_code == 400
        assert f"{name}:" in text_of(bad)
        assert "<b>" not in bad.text
    assert (await site.http.get("/ui/overrides")).status_code == 401
