"""What the responder pages' form handlers share (room: web): reading a query's fields, and
the answer a refused form gets.

The pages' POST handlers are plain functions over the engine (`add_override(engine, user,
fields)`): the form plumbing (session, CSRF, scope, redirect) calls them with the form's
fields and shows a `Refused` beside the fields it names, so the checks stay the engine's,
shared with the CLI and the JSON API, and each is tested without HTTP.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from typing import TypeVar

from router.errors import BadRequest, Conflict, NotFound
from router.server.routes import Request

T = TypeVar("T")
Fields = Mapping[str, str]
"""A posted form's fields, each its last value, stripped by the plumbing or not."""


@dataclass(frozen=True, slots=True)
class Refused:
    """A form the checks refused: a message per field (`id` for the thing acted on)."""

    errors: Mapping[str, str]


async def attempt(call: Awaitable[T], missing: str = "id") -> T | Refused:
    """`call`'s result, or its BadRequest (by its field), NotFound or Conflict (by
    `missing`) as a Refused the form can show."""
    try:
        return await call
    except BadRequest as bad:
        return Refused({bad.field or "form": bad.message})
    except NotFound as absent:
        return Refused({missing: absent.message})
    except Conflict as conflict:
        return Refused({missing: conflict.message})


def field(fields: Fields, name: str) -> str:
    """A form field's text, stripped; "" when absent."""
    return (fields.get(name) or "").strip()


def query(request: Request, name: str) -> str:
    """A query parameter's last value, stripped; "" when absent."""
    return (request.query.get(name) or [""])[-1].strip()
