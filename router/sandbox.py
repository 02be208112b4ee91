"""The one sandboxed Jinja2 environment every template of the config runs in: services'
dedup keys and channels' title, text, html and payload (imports jinja2 only).

Templates are written by whoever edits the config and filled with what senders put in their
alerts, so they run in Jinja2's immutable sandbox: no attribute starting with `_`, no
mutation, ranges and repetitions bounded. The module sits at the top of router, beside
`errors`, so that `config.build` (which compiles every template at load, so `router
validate` finds a syntax error), the engine (which renders dedup keys) and `notify` (which
renders messages) share it without importing one another: what one accepts or refuses,
every other does too.
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import jinja2
import jinja2.sandbox
from jinja2.exceptions import SecurityError

MAX_REPEAT = 100_000
"""The longest text or list `*` may build."""

MAX_POWER_BITS = 4096
"""The largest whole number `**` may compute, in bits."""


class _Environment(jinja2.sandbox.ImmutableSandboxedEnvironment):
    """The sandbox, with `*` and `**` refusing results too large to be a message."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: jinja2.runtime.Context, operator_name: str, left: Any,
                   right: Any) -> Any:
        if operator_name == "**":
            if _bits(left) * abs(_number(right)) > MAX_POWER_BITS:
                raise SecurityError(f"{left!r} ** {right!r} is larger than {MAX_POWER_BITS} "
                                    "bits")
            return operator.pow(left, right)
        for sized, count in ((left, right), (right, left)):
            if (isinstance(sized, (str, list, tuple)) and isinstance(count, int)
                    and len(sized) * count > MAX_REPEAT):
                raise SecurityError(f"repeating {len(sized)} items {count} times makes more "
                                    f"than {MAX_REPEAT}")
        return operator.mul(left, right)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) else 0.0


def _bits(value: Any) -> int:
    """How many bits `value` takes; 1 for anything that is not a whole number (a float
    overflows by itself, with an OverflowError)."""
    return max(abs(value).bit_length(), 1) if isinstance(value, int) else 1


class _Undefined(jinja2.Undefined):
    """A name that is not there prints as nothing (`{{ incident.labels.env }}` for an alert
    without `env`), but one the sandbox refused fails the template, so its caller falls back
    (the default message, the label hash) and says so."""

    __slots__ = ()

    def __str__(self) -> str:
        if self._undefined_exception is SecurityError:
            self._fail_with_undefined_error()
        return ""


_TEXT = _Environment(autoescape=False, undefined=_Undefined)
_HTML = _Environment(autoescape=True, undefined=_Undefined)


@functools.lru_cache(maxsize=512)
def compile_template(text: str, *, html: bool = False) -> jinja2.Template:
    """The compiled template, from a cache keyed by its text: a config reload that keeps a
    template does not compile it again, and render time never compiles.

    Args:
        html: compile for the html template: every value is HTML-escaped unless marked safe.

    Raises:
        jinja2.TemplateSyntaxError: with `lineno`, the line of the template at fault; an
            unknown filter or test is one too, as compiling (not only parsing) finds it.
    """
    return (_HTML if html else _TEXT).from_string(text)
