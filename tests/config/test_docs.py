"""docs/config.md stays true to the code: every YAML example in it fits the schema."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from router.config.load import read_file
from router.config.schema import check_shape
from router.config.secrets import SecretResolver
from tests.config.support import write

DOC = Path(__file__).resolve().parents[2] / "docs" / "config.md"
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
