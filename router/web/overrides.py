"""The run-time overrides page and its form handlers (room: web).

`GET /ui/overrides[?rota=web][&all=1]` lists the overrides in force or to come (with `all`,
ended and removed ones too), each with a Remove form, above an Add form. The forms post to
`/ui/overrides` (fields `rota`, `person`, `replaces`, `from`, `until`, `reason`) and
`/ui/overrides/{id}/remove`; their handlers are `add_override` and `remove_override` below,
which the form plumbing calls with the signed-in user's name. The checks are
engine/overrides.py's, shared with `router override` and `POST /v1/rotas/{id}/overrides`.
"""

from __future__ import annotations

from router.engine import Engine, overrides
from router.engine.overrides import Added, RotaOverride
from router.errors import BadRequest
from router.server.routes import Handler, Request, Response
from router.web.fields import Fields, Refused, attempt, field, query
from router.web.oncall import local
from router.web.render import Renderer

SHOWN = 100
"""The page lists at most this many (the last to start), so it stays under 100 KB however
long the history `all` asks for; `router override list --all` has every one."""
FLAGS = {"": False, "0": False, "false": False, "no": False, "1": True, "true": True,
         "yes": True}


async def add_override(engine: Engine, user_name: str, fields: Fields) -> Added | Refused:
    """The Add form: store the override, created by `user_name`, or say which field is
    wrong. `from` left empty is now; times without an offset are the rota's wall clock."""
    async def add() -> Added:
        config, rota_id = engine.config, field(fields, "rota")
        start_text = field(fields, "from")
        start = (engine.now() if not start_text
                 else overrides.parse_time(config, rota_id, "from", start_text))
        if not field(fields, "until"):
            raise BadRequest("until", "is required")
        end = overrides.parse_time(config, rota_id, "until", field(fields, "until"))
        return await overrides.add_override_warned(
            engine, rota_id, person=field(fields, "person"), start=start, end=end,
            reason=field(fields, "reason"), replaces=field(fields, "replaces") or None,
            created_by=user_name)
    return await attempt(add())


async def remove_override(engine: Engine, user_name: str, override_id: str
                          ) -> RotaOverride | Refused:
    """The Remove form of one override: it stops applying now (the row stays)."""
    return await attempt(overrides.remove_override(
        engine, overrides.parse_override_id(override_id)))


class OverridePages:
    def __init__(self, engine: Engine, renderer: Renderer) -> None:
        self.engine = engine
        self.renderer = renderer

    def routes(self) -> list[tuple[str, str, Handler]]:
        return [("GET", "/ui/overrides", self.listing)]

    async def listing(self, request: Request) -> Response:
        config = self.engine.config
        rota, every = query(request, "rota"), query(request, "all").lower()
        if rota and rota not in config.rotas:
            return self.renderer.message(400, "Bad filter", str(BadRequest(
                "rota", f"no rota {rota!r}")))
        if every not in FLAGS:
            return self.renderer.message(400, "Bad filter", str(BadRequest(
                "all", "expected 1 or 0")))
        return await self.show(rota, FLAGS[every])

    async def show(self, rota: str, every: bool, refused: Refused | None = None,
                   values: Fields | None = None) -> Response:
        """The page; with `refused`, a 400 that shows each error beside its field of the
        Add form, refilled with the `values` posted (the form plumbing's answer)."""
        config = self.engine.config
        found, total = await overrides.latest_overrides(self.engine, rota or None, every,
                                                        SHOWN)
        extra = {} if refused is None else {"errors": refused.errors}
        return self.renderer.page(
            "overrides.html", 200 if refused is None else 400, overrides=found,
            hidden=total - len(found),
            now=self.engine.now(), rota=rota, every=every, state=overrides.override_state,
            local=local, rotas=config.rotas, rota_ids=sorted(config.rotas),
            people=sorted(config.people),
            values=dict(values) if values is not None else {"rota": rota} if rota else {},
            **extra)
