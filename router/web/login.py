"""Logging in and out of the web interface (room: web; trio for the password check only).

`POST /ui/login` is heard only when the throttle allows (else 429 with Retry-After, before
any password work), counts the attempt as a failure until it succeeds, checks the password
in a worker thread (scrypt costs ~50 ms of CPU and must not stall the loop), answers an
unknown name and a wrong password with the same words, and on success sets the session
cookie and sends the browser to `next` (a page of this router only, access.safe_next). The
login form needs no CSRF token: there is no session yet, and the gate's Origin check and the
SameSite=Strict cookie stop another site's post.
`POST /ui/logout` is an ordinary form (forms.py): it clears the cookie.
"""

from __future__ import annotations

import logging
import math
from urllib.parse import parse_qs

import trio

from router.server.routes import Request, Response
from router.web.access import HOME, WebAccess, safe_next
from router.web.auth import sessions
from router.web.auth.principal import check_password
from router.web.forms import FORM_TYPE, MAX_FORM_BYTES, Done, Form

logger = logging.getLogger(__name__)
WRONG = "Unknown user or wrong password."
PASSWORD_CHECKS = 2
"""Passwords checked at once, each in a worker thread with its 32 MiB: a flood of logins
holds no more (trio's threads are shared with email delivery), the others wait their turn."""


class Login:
    """The login page, its POST, and the logout action."""

    def __init__(self, access: WebAccess) -> None:
        self.access = access
        self.renderer = access.renderer
        self.engine = access.engine
        self.password_checks = trio.CapacityLimiter(PASSWORD_CHECKS)

    async def page(self, request: Request) -> Response:
        target = safe_next((request.query.get("next") or [HOME])[-1])
        if self.access.viewer(request) is not None:
            return Response(303, b"", (("location", target),))
        return self._form(200, target)

    async def submit(self, request: Request) -> Response:
        fields = self._fields(request)
        if fields is None:
            return self.renderer.message(400, "Bad form", "expected the login form.",
                                         back="/ui/login")
        name, password = fields.get("user", ""), fields.get("password", "")
        target = safe_next(fields.get("next", HOME))
        if self.access.key is None:
            return self._form(503, target, "Logins are not ready yet; try again shortly.")
        users = self.engine.config.users
        counted = name if name in users else None  # made-up names add no entries
        address = request.client[0] if request.client else "unknown"
        now = self.engine.now()
        wait = self.access.throttle.retry_after(counted, address, now)
        if wait.total_seconds() > 0:
            seconds = max(1, math.ceil(wait.total_seconds()))
            return self._form(429, target, f"Too many failed logins: try again in "
                              f"{seconds} s.", name, headers=(("retry-after", str(seconds)),))
        # Counted as a failure before the check (a success clears it): a burst of guesses
        # sent at once must not all pass the throttle while the first are being hashed.
        self.access.throttle.record_failure(counted, address, now)
        user = await trio.to_thread.run_sync(check_password, users, name, password,
                                             limiter=self.password_checks)
        if user is None:
            # An undeclared name is not logged: it may be a password typed in the wrong box.
            shown = counted or "an unknown user"
            logger.warning("web login refused for %s from %s", shown, address,
                           extra={"user": shown, "client": address})
            return self._form(401, target, WRONG, name)
        self.access.throttle.record_success(counted, address)
        session, value = sessions.issue(self.access.key, user, now,
                                        self.engine.config.settings.web.session_lifetime)
        logger.info("web login: %s", user.name, extra={"user": user.name, "client": address})
        cookie = sessions.set_cookie(value, now=now, expires=session.expires,
                                     secure=self.access.secure)
        return Response(303, b"", (("location", target), ("set-cookie", cookie),
                                   ("cache-control", "no-store")))

    async def logout(self, request: Request, form: Form) -> Done:
        return Done("/ui/login", "Logged out.", headers=(
            ("set-cookie", sessions.clear_cookie(secure=self.access.secure)),))

    def _fields(self, request: Request) -> dict[str, str] | None:
        media_type = request.headers.get("content-type", "").partition(";")[0].strip().lower()
        if media_type != FORM_TYPE or len(request.body) > MAX_FORM_BYTES:
            return None
        try:
            parsed = parse_qs(request.body.decode("utf-8"), keep_blank_values=True,
                              max_num_fields=10, errors="strict")
        except (UnicodeDecodeError, ValueError):
            return None
        return {name: values[-1] for name, values in parsed.items()}

    def _form(self, status: int, target: str, error: str = "", name: str = "", *,
              headers: tuple[tuple[str, str], ...] = ()) -> Response:
        return self.renderer.page_with("login.html", status, headers, next=target,
                                       error=error, name=name)
