"""docs/config.md stays true to the code: every YAML example in it fits the schema, and
every key the schema accepts is in it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from router.config.load import read_file
from router.config.schema import check_shape
from router.config.secrets import SecretResolver
from tests.config.support import write

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "config.md"
EXAMPLES = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)


def test_the_reference_has_examples() -> None:
    assert len(EXAMPLES) >= 10


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda text: text.split("\n")[0][:30])
def test_each_yaml_example_in_the_reference_fits_the_schema(tmp_path: Path,
                                                            example: str) -> None:
    path = write(tmp_path, "example.yaml", example)
    documents, found = read_file(path, SecretResolver(resolve=False))
    assert [str(problem) for problem in found] == []
    for document in documents:
        assert [str(problem) for problem in check_shape(document)[0]] == []


def keys(node: Any, path: str) -> Iterator[tuple[str, str]]:
    """(where, key) for every property of every object in a schema, nested: through items,
    $defs, combinators and pattern properties."""
    if not isinstance(node, dict):
        return
    for key, child in node.get("properties", {}).items():
        yield f"{path}.{key}", key
        yield from keys(child, f"{path}.{key}")
    for name in ("items", "additionalProperties", "not", "if", "then", "else"):
        yield from keys(node.get(name), path + ("[]" if name == "items" else ""))
    for name in ("oneOf", "anyOf", "allOf", "prefixItems"):
        for child in node.get(name, ()):
            yield from keys(child, path)
    for child in node.get("patternProperties", {}).values():
        yield from keys(child, path)
    for name, child in node.get("$defs", {}).items():
        yield from keys(child, f"$defs.{name}")


def documented_words() -> set[str]:
    """Every name written as code in the reference: in backticks or in a YAML example."""
    text = DOC.read_text(encoding="utf-8")
    spans = re.findall(r"`([^`\n]+)`", text) + EXAMPLES
    return {word for span in spans for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", span)}


def test_every_key_the_schema_accepts_is_in_the_reference() -> None:
    schemas = sorted((ROOT / "schemas").rglob("*.json"))
    found = [(f"{schema.relative_to(ROOT)}: {where}", key) for schema in schemas
             for where, key in keys(json.loads(schema.read_text(encoding="utf-8")), "")]
    assert len(found) > 100  # the walk reaches the nested objects
    words = documented_words()
    assert [where for where, key in found if key not in words] == []
