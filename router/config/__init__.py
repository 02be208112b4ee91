"""YAML files -> one validated, immutable Config (room: config).

`load_config` (router/config/pipeline.py) is the package's one entry point. It is imported
on first use, not here: every reader of `config.model` runs this file, and importing the
builder would load `notify` and Jinja2 into `core` and close an import loop (notify's
channels read config.model).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from router.config.model import Config
from router.errors import ConfigInvalid

if TYPE_CHECKING:
    from router.config.pipeline import load_config

__all__ = ["Config", "ConfigInvalid", "load_config"]


def __getattr__(name: str) -> Any:
    """`router.config.load_config`, imported when first asked for."""
    if name == "load_config":
        from router.config.pipeline import load_config

        return load_config
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
