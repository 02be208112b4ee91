"""router/migrate/alertmanager/go_template.py: Go text/template's syntax as Go reads it."""

from __future__ import annotations

import pytest

from router.migrate.alertmanager.go_template import (
    Action,
    Branch,
    Command,
    Field,
    Function,
    Include,
    Literal,
    Malformed,
    Pipeline,
    Sub,
    Text,
    Unsupported,
    parse,
)


def pipe(*commands: tuple[object, ...]) -> Pipeline:
    return Pipeline(tuple(Command(tuple(command)) for command in commands))  # type: ignore[arg-type]


def test_go_string_escapes() -> None:
    assert parse(r'{{ "a\"b\\c\n\x41\u00e9\101" }}').nodes == (
        Action(pipe((Literal('a"b\\c\nAéA'),))),)


def test_pipelines_fields_literals_and_parentheses() -> None:
    parsed = parse('{{ .A.B | join " " }}{{ len (index $.C `k`).D }}{{ eq 1 2.5 true nil }}')
    assert parsed.nodes == (
        Action(pipe((Field(".", ("A", "B")),), (Function("join"), Literal(" ")))),
        Action(pipe((Function("len"), Sub(pipe((Function("index"), Field("$", ("C",)),
                                                 Literal("k"))), ("D",))))),
        Action(pipe((Function("eq"), Literal(1), Literal(2.5), Literal(True), Literal(None)))),
    )


def test_trim_markers_and_comments_act_on_the_text_around_them() -> None:
    parsed = parse("a \n {{- .X -}} \n b {{/* gone */}} c{{- /* gone */ -}}\n d {{-3}}")
    assert parsed.nodes == (
        Text("a"), Action(pipe((Field(".", ("X",)),))), Text("b "), Text(" c"),
        Text("d "), Action(pipe((Literal(-3),))))  # {{-3 is the number -3, no trim


def test_else_if_nests_and_defines_are_collected() -> None:
    parsed = parse('{{ define "x" }}X{{ end }}{{ if .A }}a{{ else if .B }}b{{ else }}c{{ end }}'
                   '{{ range .L }}{{ . }}{{ else }}none{{ end }}{{ template "x" . }}')
    dot = Field(".", ())
    assert parsed.definitions == {"x": (Text("X"),)}
    assert parsed.nodes == (
        Branch("if", pipe((Field(".", ("A",)),)), (Text("a"),), (
            Branch("if", pipe((Field(".", ("B",)),)), (Text("b"),), (Text("c"),)),)),
        Branch("range", pipe((Field(".", ("L",)),)), (Action(pipe((dot,))),), (Text("none"),)),
        Include("x", pipe((dot,))),
    )


@pytest.mark.parametrize(("text", "error", "message"), [
    ("{{ .A", Malformed, "line 1: unexpected 'the end of the template' in an action"),
    ("a\n{{ if .A }}", Malformed, "unexpected end of the template: missing {{end}}"),
    ("{{ else }}", Malformed, "line 1: unexpected {{else}}"),
    ("{{ .A | }}", Malformed, "line 1: unbalanced parentheses or an empty command"),
    ("{{ template .A }}", Malformed, "line 1: template needs a quoted name"),
    ("{{/* open", Malformed, "line 1: unclosed comment"),
    ("{{ $x := 1 }}", Unsupported, "line 1: a variable declaration ($x := 1)"),
    ("{{ range .A }}{{ break }}{{ end }}", Unsupported, "line 1: {{break}}"),
    ("{{ 'a' }}", Unsupported, "line 1: character literal 'a'"),
    ("{{ $x }}", Unsupported, "line 1: the variable $x"),
    ('{{ "a\\qb" }}', Malformed, 'invalid escape in the string "a\\qb"'),
    ("{{ 08 }}", Unsupported, "line 1: the number 08"),
])
def test_what_go_refuses_and_what_is_not_taken(text: str, error: type[Exception],
                                                message: str) -> None:
    with pytest.raises(error) as raised:
        parse(text)
    assert str(raised.value) == message
