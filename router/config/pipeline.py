"""`load_config`, the config package's one entry point (room: config): find the files, parse
them, check their shape, build the model, run the semantic checks, and raise every problem
at once.

A module of its own so that `router/config/__init__.py` need not import the builder (and
with it `notify` and Jinja2) to be imported: readers of `config.model` (core, alerts,
notify's channels) stay light and free of an import loop.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from pathlib import Path

from router.config.build import build_config
from router.config.load import Document, find_files, read_file
from router.config.model import Config
from router.config.schema import check_shape
from router.config.secrets import SecretResolver
from router.errors import Problem, Where
from router.redaction import redact_urls


def load_config(paths: Sequence[str | Path], *, resolve_secrets: bool = True,
                environ: Mapping[str, str] | None = None) -> Config:
    """Load and validate the config in `paths` (directories and/or files).

    Raises:
        ConfigInvalid: with every problem found, each with file, line and column.
    """
    resolver = SecretResolver(resolve=resolve_secrets)
    if environ is not None:
        resolver.environ = environ
    files, problems = find_files(paths)
    documents: list[Document] = []
    dropped = False  # an item left out means its id cannot be checked against
    for path in files:
        found, file_problems = read_file(path, resolver)
        problems.extend(file_problems)
        dropped = dropped or (bool(file_problems) and not found)
        for document in found:
            shape, usable = check_shape(document, functools.partial(_shown, resolver))
            problems.extend(shape)
            dropped = dropped or bool(shape)
            if usable is not None:
                documents.append(usable)
    if not files and not problems:
        problems.append(Problem(Where(""), "", "no config files given"))
    return build_config(documents, resolver, problems, files=[str(path) for path in files],
                        check_references=not dropped)


def _shown(resolver: SecretResolver, message: str) -> str:
    """A shape problem's message as it may be shown: a secret's value replaced by its
    reference, and a URL's user info and query left out (`store: postgresql://u:pw@db/x`
    is the wrong shape, and its password must not be repeated)."""
    return redact_urls(resolver.redact(message))
