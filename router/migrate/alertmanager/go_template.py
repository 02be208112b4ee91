"""A tokenizer and parser for the part of Go's text/template that Alertmanager's notification
templates use (room: migrate; imports nothing of router).

Pure. `parse(text)` gives the template as a tree (`Text`, `Action`, `Branch` for if, range
and with, `Include` for `{{ template }}`) and the `{{ define }}`d templates by name; the
trim markers `{{- ` and ` -}}` are applied to the text around them here, as Go does, and
comments are dropped. Go's syntax is followed where it matters to read a template the same
way: pipelines (`a | f b` is `f b a`), parenthesised pipelines, fields on `.` and `$`, string,
raw string, number, boolean and nil literals, `else if`, `else` on range and with.

What the parser does not take (variables declared with `:=` or `=`, `block`, `break`,
`continue`, character literals) raises `Unsupported` naming the construct; what Go itself
would refuse raises `Malformed` with the template line.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

KEYWORDS = frozenset({"if", "else", "end", "range", "with", "template", "define", "block",
                      "break", "continue"})

_SPACE = " \t\r\n"
_TOKEN = re.compile(r"""
    (?P<string>"(?:\\.|[^"\\\n])*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:\\.|[^'\\])+')
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][+-]?[0-9]+)?))
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+|\.)
  | (?P<variable>\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<declare>:=|=)
  | (?P<symbol>[|(),])
  | (?P<identifier>[A-Za-z_][A-Za-z0-9_]*)
""", re.VERBOSE)


_ESCAPE = re.compile(r"""\\(?:[abfnrtv\\"]|[0-7]{3}|x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}"""
                     r"|U[0-9a-fA-F]{8})")
"""The escapes Go allows in a double-quoted string."""


class Malformed(ValueError):
    """Text Go's parser refuses too."""


class Unsupported(ValueError):
    """Valid Go template syntax that the translation does not take; the message names it."""


@dataclass(frozen=True, slots=True)
class Field:
    """`.A.B` (root "."), `$.A.B` or `$` (root "$"); `names` may be empty (`.` itself)."""

    root: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    value: str | int | float | bool | None


@dataclass(frozen=True, slots=True)
class Function:
    """A function's name used as a command's first word (`len`, `join`, `eq`, ...)."""

    name: str


@dataclass(frozen=True, slots=True)
class Sub:
    """A parenthesised pipeline, optionally followed by fields: `(index . "a").B`."""

    pipeline: Pipeline
    names: tuple[str, ...] = ()


Operand = Field | Literal | Function | Sub


@dataclass(frozen=True, slots=True)
class Command:
    operands: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Pipeline:
    commands: tuple[Command, ...]


@dataclass(frozen=True, slots=True)
class Text:
    text: str


@dataclass(frozen=True, slots=True)
class Action:
    pipeline: Pipeline


@dataclass(frozen=True, slots=True)
class Branch:
    """`if`, `range` or `with`: `body` when the pipeline is non-empty, else `otherwise`."""

    kind: str
    pipeline: Pipeline
    body: tuple[Node, ...]
    otherwise: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Include:
    """`{{ template "name" pipeline }}`; pipeline None when no data is passed."""

    name: str
    pipeline: Pipeline | None


Node = Text | Action | Branch | Include


@dataclass(frozen=True, slots=True)
class Parsed:
    nodes: tuple[Node, ...]
    definitions: dict[str, tuple[Node, ...]]


@dataclass(slots=True)
class _Tag:
    """One `{{ ... }}`: its tokens (kind, text) and the template line it starts on."""

    tokens: list[tuple[str, str]]
    line: int


def parse(text: str) -> Parsed:
    """The template's tree and its `{{ define }}`s.

    Raises:
        Malformed: with the line, for text Go refuses.
        Unsupported: naming a construct the translation does not take.
    """
    items = _lex(text)
    parser = _Parser(items)
    nodes = parser.nodes(until=())
    return Parsed(tuple(nodes), parser.definitions)


def _lex(text: str) -> list[str | _Tag]:
    """Text and tags in order, trim markers applied to the text around them."""
    items: list[str | _Tag] = []
    position = 0
    trim_next = False
    while True:
        start = text.find("{{", position)
        chunk = text[position:] if start < 0 else text[position:start]
        if trim_next:
            chunk = chunk.lstrip(_SPACE)
        if start < 0:
            items.append(chunk)
            return items
        line = text.count("\n", 0, start) + 1
        inner = start + 2
        if text.startswith("-", inner) and text[inner + 1:inner + 2] in tuple(_SPACE):
            chunk = chunk.rstrip(_SPACE)
            inner += 2
        items.append(chunk)
        tag, position, trim_next = _tag(text, inner, line)
        if tag is not None:
            items.append(tag)


def _tag(text: str, position: int, line: int) -> tuple[_Tag | None, int, bool]:
    """The tag starting at `position` (after `{{` and its trim marker); None for a comment.
    Returns the tag, where the text resumes and whether to trim it."""
    stripped = position + len(text[position:]) - len(text[position:].lstrip(_SPACE))
    if text.startswith("/*", stripped):
        end = text.find("*/", stripped + 2)
        if end < 0:
            raise Malformed(f"line {line}: unclosed comment")
        return None, *_close(text, end + 2, line, comment=True)
    tokens: list[tuple[str, str]] = []
    while True:
        spaced = position
        while position < len(text) and text[position] in _SPACE:
            position += 1
        if text.startswith("}}", position):
            return _Tag(tokens, line), position + 2, False
        if text.startswith("-}}", position) and position > spaced:
            return _Tag(tokens, line), position + 3, True
        match = _TOKEN.match(text, position)
        if match is None or not match.group():
            what = text[position:position + 10] or "the end of the template"
            raise Malformed(f"line {line}: unexpected {what!r} in an action")
        kind = match.lastgroup or ""
        if kind == "char":
            raise Unsupported(f"line {line}: character literal {match.group()}")
        tokens.append((kind, match.group()))
        position = match.end()


def _close(text: str, position: int, line: int, *, comment: bool) -> tuple[int, bool]:
    rest = text[position:]
    if rest.startswith("}}"):
        return position + 2, False
    if rest[:1] in tuple(_SPACE) and rest.lstrip(_SPACE).startswith("-}}"):
        return position + len(rest) - len(rest.lstrip(_SPACE)) + 3, True
    raise Malformed(f"line {line}: comment ends with no closing delimiter")


class _Parser:
    """Recursive descent over the lexed items."""

    def __init__(self, items: list[str | _Tag]) -> None:
        self.items = items
        self.index = 0
        self.definitions: dict[str, tuple[Node, ...]] = {}

    def nodes(self, until: tuple[str, ...]) -> list[Node]:
        """Nodes up to a tag whose first word is in `until` (left for the caller)."""
        found: list[Node] = []
        while self.index < len(self.items):
            item = self.items[self.index]
            if isinstance(item, str):
                if item:
                    found.append(Text(item))
                self.index += 1
                continue
            word = item.tokens[0][1] if item.tokens and item.tokens[0][0] == "identifier" \
                else ""
            if word in ("else", "end"):
                if word not in until:
                    raise Malformed(f"line {item.line}: unexpected {{{{{word}}}}}")
                return found
            self.index += 1
            node = self.node(item, word)
            if node is not None:
                found.append(node)
        if until:
            raise Malformed("unexpected end of the template: missing {{end}}")
        return found

    def node(self, tag: _Tag, word: str) -> Node | None:
        tokens = tag.tokens
        if word in ("if", "range", "with"):
            return self.branch(word, _pipeline(tokens[1:], tag.line), tag.line)
        if word == "template":
            if len(tokens) < 2 or tokens[1][0] not in ("string", "raw"):
                raise Malformed(f"line {tag.line}: template needs a quoted name")
            rest = tokens[2:]
            return Include(_string(tokens[1]), _pipeline(rest, tag.line) if rest else None)
        if word == "define":
            if len(tokens) != 2 or tokens[1][0] not in ("string", "raw"):
                raise Malformed(f"line {tag.line}: define needs a quoted name")
            body = self.nodes(until=("end",))
            self.expect_end()
            self.definitions[_string(tokens[1])] = tuple(body)
            return None
        if word in KEYWORDS:
            raise Unsupported(f"line {tag.line}: {{{{{word}}}}}")
        if any(kind == "declare" for kind, _ in tokens):
            raise Unsupported(f"line {tag.line}: a variable declaration "
                              f"({' '.join(text for _, text in tokens)})")
        return Action(_pipeline(tokens, tag.line))

    def branch(self, kind: str, pipeline: Pipeline, line: int) -> Branch:
        body = self.nodes(until=("else", "end"))
        tag = self.items[self.index]
        assert isinstance(tag, _Tag)
        self.index += 1
        otherwise: list[Node] = []
        if tag.tokens[0][1] == "else":
            rest = tag.tokens[1:]
            if rest and rest[0] == ("identifier", "if") and kind == "if":
                # `else if` is an if nested in the else, sharing its {{end}}
                otherwise = [self.branch("if", _pipeline(rest[1:], tag.line), tag.line)]
                return Branch(kind, pipeline, tuple(body), tuple(otherwise))
            if rest:
                raise Unsupported(f"line {tag.line}: else {rest[0][1]} after {kind}")
            otherwise = self.nodes(until=("end",))
            self.expect_end()
        elif len(tag.tokens) != 1:
            raise Malformed(f"line {tag.line}: unexpected words after end")
        return Branch(kind, pipeline, tuple(body), tuple(otherwise))

    def expect_end(self) -> None:
        tag = self.items[self.index]
        assert isinstance(tag, _Tag)
        if [text for _, text in tag.tokens] != ["end"]:
            raise Malformed(f"line {tag.line}: expected {{{{end}}}}")
        self.index += 1


def _pipeline(tokens: list[tuple[str, str]], line: int) -> Pipeline:
    """Commands separated by `|` outside parentheses."""
    if not tokens:
        raise Malformed(f"line {line}: missing value for command")
    if any(kind == "declare" for kind, _ in tokens):
        raise Unsupported(f"line {line}: a variable declaration "
                          f"({' '.join(text for _, text in tokens)})")
    commands: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    depth = 0
    for token in tokens:
        if token == ("symbol", "|") and depth == 0:
            commands.append(current)
            current = []
            continue
        depth += {"(": 1, ")": -1}.get(token[1], 0) if token[0] == "symbol" else 0
        current.append(token)
    commands.append(current)
    if depth != 0 or any(not command for command in commands):
        raise Malformed(f"line {line}: unbalanced parentheses or an empty command")
    return Pipeline(tuple(Command(tuple(_operands(command, line))) for command in commands))


def _operands(tokens: list[tuple[str, str]], line: int) -> list[Operand]:
    found: list[Operand] = []
    index = 0
    while index < len(tokens):
        kind, text = tokens[index]
        index += 1
        if kind == "symbol" and text == "(":
            depth, end = 1, index
            while depth:
                if end >= len(tokens):
                    raise Malformed(f"line {line}: unclosed parenthesis")
                depth += {"(": 1, ")": -1}.get(tokens[end][1], 0) \
                    if tokens[end][0] == "symbol" else 0
                end += 1
            inner = _pipeline(tokens[index:end - 1], line)
            names: tuple[str, ...] = ()
            if end < len(tokens) and tokens[end][0] == "field" and tokens[end][1] != ".":
                names = tuple(tokens[end][1].split(".")[1:])
                end += 1
            found.append(Sub(inner, names))
            index = end
        elif kind == "symbol":
            raise Malformed(f"line {line}: unexpected {text!r}")
        else:
            found.append(_operand(kind, text, line))
    return found


def _operand(kind: str, text: str, line: int) -> Operand:
    if kind == "field":
        return Field(".", tuple(name for name in text.split(".") if name))
    if kind == "variable":
        head, *names = text.split(".")
        if head != "$":
            raise Unsupported(f"line {line}: the variable {head}")
        return Field("$", tuple(names))
    if kind in ("string", "raw"):
        return Literal(_string((kind, text)))
    if kind == "number":
        value = text.replace("_", "")
        try:
            return Literal(float(value) if any(c in value for c in ".eE") and "x" not in value
                           else int(value, 0))
        except ValueError:
            raise Unsupported(f"line {line}: the number {text}") from None
    if text in ("true", "false"):
        return Literal(text == "true")
    if text == "nil":
        return Literal(None)
    if text in KEYWORDS:
        raise Malformed(f"line {line}: unexpected {text!r} in a pipeline")
    return Function(text)


def _string(token: tuple[str, str]) -> str:
    kind, text = token
    if kind == "raw":
        return text[1:-1]
    if _ESCAPE.sub("", text[1:-1]).count("\\"):
        raise Malformed(f"invalid escape in the string {text}")
    value = ast.literal_eval(text)  # Go's and Python's escapes agree on those Go allows
    assert isinstance(value, str)
    return value
