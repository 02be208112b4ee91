"""`${env:NAME}` and `${file:PATH}` references in config values (room: config).

Secrets never need to sit in YAML: a value may name an environment variable or a file, and
the loader puts the content in its place before validation. `$${` writes a literal `${`.
With `resolve=False` (`router validate --no-secrets`) references stay as written, so a CI
runner without the secrets can still check everything else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REFERENCE = re.compile(r"\$(\$?)\{([a-z]+):([^}]*)\}")


class SecretMissing(Exception):
    """A reference that cannot be resolved; the message says which and why."""


@dataclass(slots=True)
class SecretResolver:
    """Resolves references, remembering every resolved value so it can be kept out of output."""

    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    resolve: bool = True
    references: dict[str, str] = field(default_factory=dict)
    """Resolved value -> the reference it came from (`${env:PD_KEY}`)."""

    def expand(self, text: str, base_dir: Path) -> str:
        """Return `text` with every reference replaced.

        Raises:
            SecretMissing: a variable is unset, a file is unreadable, or the source is unknown.
        """
        if "${" not in text:
            return text
        whole = REFERENCE.fullmatch(text)
        value = REFERENCE.sub(lambda match: self._replace(match, base_dir), text)
        if whole and not whole.group(1) and self.resolve:
            self.references[value] = text
        return value

    def _replace(self, match: re.Match[str], base_dir: Path) -> str:
        escaped, source, name = match.groups()
        if escaped:
            return match.group(0)[1:]
        if source not in ("env", "file"):  # wrong with or without the secrets at hand
            raise SecretMissing(f"unknown secret source {source!r} (expected 'env' or 'file')")
        if not self.resolve:
            return match.group(0)
        if source == "env":
            if name not in self.environ:
                raise SecretMissing(f"environment variable {name!r} is not set")
            return self.environ[name]
        return self._read_file(base_dir / Path(name).expanduser())

    @staticmethod
    def _read_file(path: Path) -> str:
        try:
            return path.read_text(encoding="utf-8").rstrip("\r\n")
        except FileNotFoundError:
            raise SecretMissing(f"secret file {str(path)!r} does not exist") from None
        except (OSError, UnicodeDecodeError) as error:
            reason = error.strerror if isinstance(error, OSError) else "it is not UTF-8 text"
            raise SecretMissing(f"secret file {str(path)!r} cannot be read: {reason}") from None

    def redact(self, text: str) -> str:
        """Replace every resolved secret value inside `text` by its reference."""
        for value, reference in self.references.items():
            if value and value in text:
                text = text.replace(value, reference)
        return text
