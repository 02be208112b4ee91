"""Alertmanager's Go notification templates -> Jinja over router's template context (room:
migrate; imports config.load, report and go_template only).

Pure. `translate_template` parses the Go template (go_template.py) and writes the Jinja that
renders the same text for one alert, or gives None and an `unsupported` finding naming the
construct. Router notifies each alert (each label set: one incident) on its own, so
Alertmanager's group of alerts is here the incident's one alert, and its data maps onto
router's context (docs/channels.md) as follows:

- `.Status` (of the data or an alert): `resolved` when the incident is, else `firing`.
- `.Alerts`, `.Alerts.Firing`, `.Alerts.Resolved`: `[incident]`, filtered by its state.
- `.CommonLabels`, an alert's `.Labels`: `incident.labels`.
- `.GroupLabels`: `incident.labels` (changed: every label, not only group_by's).
- `.CommonAnnotations.summary`, `.Annotations.summary`: `incident.summary` (changed: else
  the description, else the alertname).
- an alert's `.StartsAt`: `incident.opened_at` (changed: ISO 8601 text).
- `.Receiver`: `channel.id` (changed: the channel the receiver became).
- `.SortedPairs`, `.Names`, `.Values`: `dictsort(true)` with `alertname` first, as
  Alertmanager sorts them.

`.ExternalURL`, other annotations, `.EndsAt`, `.GeneratorURL` and `.Fingerprint` have no
counterpart and make the template unsupported. Functions: `toUpper`, `toLower`, `title`,
`join`, `safeHtml`, `len`, `index`, `eq`, `ne`, `lt`, `le`, `gt`, `ge`, `and`, `or`, `not`,
and `reReplaceAll` with a pattern and replacement that are plain text (Jinja's `replace`;
Jinja has no regular expressions). A missing label prints nothing in router, where Go
prints `<no value>`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from router.config.load import Source
from router.migrate.alertmanager import go_template as go
from router.migrate.alertmanager.report import Report

MAX_DEPTH = 20
"""How deeply `{{ template }}` calls may nest (Go's own limit is 100000; a loop stops here)."""

_STATUS = '("resolved" if {0}.state == "resolved" else "firing")'
_PAIRS = ('(({0} | dictsort(true) | selectattr(0, "eq", "alertname") | list) + ({0} | '
          'dictsort(true) | rejectattr(0, "eq", "alertname") | list))')
_COMPARISONS = {"eq": "==", "ne": "!=", "lt": "<", "le": "<=", "gt": ">", "ge": ">="}
_FILTERS = {"toUpper": "upper", "toLower": "lower", "title": "title", "safeHtml": "safe"}
_DICT_NAMES = frozenset(dir(dict))
_PLAIN = re.compile(r"[^\\.+*?()|\[\]{}^$]+")
"""A regular expression with none of RE2's special characters matches only itself."""
_NO_COUNTERPART = {"ExternalURL", "GroupKey", "TruncatedAlerts", "EndsAt", "GeneratorURL",
                   "Fingerprint"}

NOTES = {
    "Receiver": "`.Receiver` is the channel's id (the channel the receiver became)",
    "GroupLabels": "`.GroupLabels` is the incident's labels: router has no groups, so labels "
                   "outside the route's group_by show too",
    "Alerts": "router notifies each alert (label set) as its own incident: `.Alerts` holds "
              "that one alert",
    "summary": "the summary annotation is the incident's summary: the `summary` annotation, "
               "else `description`, else the alertname",
    "title": "`title` starts a word after white space, a hyphen or a bracket only "
             "(Alertmanager also after punctuation such as / or ,)",
    "StartsAt": "`.StartsAt` is when the incident opened, as ISO 8601 text "
                "(2026-03-02T09:30:00+00:00), not Go's 2026-03-02 09:30:00 +0000 UTC",
}
"""What a translation changes, by the Alertmanager field that brings the change."""


class Untranslatable(ValueError):
    """A construct the translation cannot carry over; the message names it."""


@dataclass(frozen=True, slots=True)
class Value:
    """A Jinja expression and what it holds, as Alertmanager's types go: data, alerts,
    alert, labels, annotations, pairs, pair, strings, string, number, bool, nil, any."""

    expression: str
    kind: str


ROOT = Value("", "data")


def translate_template(text: str, source: Source, report: Report, *,
                       definitions: Sequence[str] = ()) -> str | None:
    """The Jinja for Alertmanager's template `text`, or None when it cannot be translated.

    Args:
        source: the template's place in the Alertmanager file, for the finding.
        report: gets `converted`, `changed` (with what differs) or `unsupported` (naming
            the construct).
        definitions: texts of the Alertmanager config's `templates:` files, whose
            `{{ define }}`s `{{ template "name" . }}` may call.
    """
    try:
        jinja, notes = translate(text, definitions)
    except (go.Malformed, go.Unsupported, Untranslatable) as error:
        what = "not a valid Go template" if isinstance(error, go.Malformed) else "cannot " \
            "translate"
        report.add("unsupported", source, f"template left out (the channel keeps router's "
                                          f"default): {what}: {error}")
        return None
    if notes:
        report.add("changed", source, "template translated to Jinja; " + "; ".join(notes))
    else:
        report.add("converted", source, "template translated to Jinja")
    return jinja


def translate(text: str, definitions: Sequence[str] = ()) -> tuple[str, list[str]]:
    """The Jinja and the notes of what changed, in the order first met.

    Raises:
        go.Malformed, go.Unsupported, Untranslatable: naming what stops it.
    """
    parsed = go.parse(text)
    known: dict[str, tuple[go.Node, ...]] = {}
    for other in definitions:
        known.update(go.parse(other).definitions)
    known.update(parsed.definitions)
    translator = _Translator(known)
    jinja = translator.nodes(parsed.nodes, ROOT)
    if jinja.endswith("\n"):
        jinja += "\n"  # Jinja drops a template's last newline; Go keeps it
    return jinja, [NOTES[key] for key in translator.notes]


def escape_text(text: str) -> str:
    """Plain text as Jinja prints it: a `{` that could open a Jinja tag is written as an
    expression (`{{`, `{%`, `{#`, or a `{` before the next tag)."""
    return re.sub(r"\{(?=[{%#]|$)", '{{ "{" }}', text)


@dataclass(slots=True)
class _Translator:
    definitions: dict[str, tuple[go.Node, ...]]
    notes: dict[str, None] = field(default_factory=dict)
    loops: int = 0
    depth: int = 0

    def nodes(self, nodes: Sequence[go.Node], dot: Value) -> str:
        return "".join(self.node(node, dot) for node in nodes)

    def node(self, node: go.Node, dot: Value) -> str:
        if isinstance(node, go.Text):
            return escape_text(node.text)
        if isinstance(node, go.Action):
            return printed(self.pipeline(node.pipeline, dot))
        if isinstance(node, go.Include):
            return self.include(node, dot)
        return self.branch(node, dot)

    def include(self, node: go.Include, dot: Value) -> str:
        body = self.definitions.get(node.name)
        if body is None:
            raise Untranslatable(f'{{{{ template "{node.name}" }}}}: no such template is '
                                 "defined in the template or the config's template files")
        if self.depth >= MAX_DEPTH:
            raise Untranslatable(f'{{{{ template "{node.name}" }}}} nests deeper than '
                                 f"{MAX_DEPTH}")
        value = self.pipeline(node.pipeline, dot) if node.pipeline else Value("none", "nil")
        self.depth += 1
        try:
            return self.nodes(body, value)
        finally:
            self.depth -= 1

    def branch(self, node: go.Branch, dot: Value) -> str:
        value = self.pipeline(node.pipeline, dot)
        otherwise = self.nodes(node.otherwise, dot)
        if node.kind == "range":
            return self.loop(value, node, dot, otherwise)
        body = self.nodes(node.body, value if node.kind == "with" else dot)
        alternative = "{% else %}" + otherwise if otherwise else ""
        return f"{{% if {truth(value)} %}}{body}{alternative}{{% endif %}}"

    def loop(self, value: Value, node: go.Branch, dot: Value, otherwise: str) -> str:
        self.loops += 1
        suffix = "" if self.loops == 1 else f"_{self.loops}"
        try:
            if value.kind == "alerts":
                name, iterable, element = f"alert{suffix}", value.expression, "alert"
                item = Value(name, element)
            elif value.kind in ("pairs", "strings"):
                name, iterable = f"item{suffix}", value.expression
                item = Value(name, "pair" if value.kind == "pairs" else "string")
            elif value.kind == "labels":  # Go ranges over a map's values, by sorted key
                name, iterable = f"item{suffix}", f"({value.expression} | dictsort(true))"
                item = Value(f"{name}[1]", "string")
            else:
                raise Untranslatable(f"range over {describe(value)}")
            body = self.nodes(node.body, item)
        finally:
            self.loops -= 1
        alternative = "{% else %}" + otherwise if otherwise else ""
        return f"{{% for {name} in {iterable} %}}{body}{alternative}{{% endfor %}}"

    def pipeline(self, pipeline: go.Pipeline, dot: Value) -> Value:
        value: Value | None = None
        for command in pipeline.commands:
            value = self.command(command, dot, value)
        assert value is not None
        return value

    def command(self, command: go.Command, dot: Value, previous: Value | None) -> Value:
        first, *rest = command.operands
        if isinstance(first, go.Function):
            arguments = [self.operand(operand, dot) for operand in rest]
            return self.call(first.name, arguments + ([previous] if previous else []))
        if rest or previous is not None:
            raise go.Malformed("can't give an argument to a non-function "
                               f"{describe_operand(first)}")
        return self.operand(first, dot)

    def operand(self, operand: go.Operand, dot: Value) -> Value:
        if isinstance(operand, go.Field):
            return self.walk(dot if operand.root == "." else ROOT, operand.names)
        if isinstance(operand, go.Sub):
            return self.walk(self.pipeline(operand.pipeline, dot), operand.names)
        if isinstance(operand, go.Function):
            raise Untranslatable(f"the function {operand.name} as an argument")
        return literal(operand.value)

    def walk(self, value: Value, names: Sequence[str]) -> Value:
        for name in names:
            value = self.field(value, name)
        return value

    def field(self, value: Value, name: str) -> Value:
        """`value.name` as Alertmanager's types answer it."""
        kind, expression = value.kind, value.expression
        if name in _NO_COUNTERPART and kind in ("data", "alert"):
            raise Untranslatable(f"the field .{name} has no counterpart in router's "
                                 "template context (docs/channels.md)")
        if kind == "data":
            return self.data_field(name)
        if kind == "alert" and name == "Status":
            return Value(_STATUS.format(expression), "string")
        if kind == "alert" and name in ("Labels", "Annotations"):
            return Value(f"{expression}.labels" if name == "Labels" else expression,
                         name.lower())
        if kind == "alert" and name == "StartsAt":
            self.notes["StartsAt"] = None
            return Value(f"{expression}.opened_at", "string")
        if kind == "alerts" and name in ("Firing", "Resolved"):
            test = "rejectattr" if name == "Firing" else "selectattr"
            return Value(f'({expression} | {test}("state", "eq", "resolved") | list)', "alerts")
        if kind in ("labels", "pairs") and name in ("SortedPairs", "Names", "Values"):
            pairs = _PAIRS.format(expression) if kind == "labels" else expression
            if name == "SortedPairs":
                return Value(pairs, "pairs")
            index = 0 if name == "Names" else 1
            return Value(f"({pairs} | map(attribute={index}) | list)", "strings")
        if kind == "pair" and name in ("Name", "Value"):
            return Value(f"{expression}[{0 if name == 'Name' else 1}]", "string")
        if kind == "labels":
            return Value(label(expression, name), "string")
        if kind == "annotations":
            return self.annotation(expression, name)
        raise Untranslatable(f"the field .{name} of {describe(value)}")

    def data_field(self, name: str) -> Value:
        if name == "Status":
            return Value(_STATUS.format("incident"), "string")
        if name == "Receiver":
            self.notes["Receiver"] = None
            return Value("channel.id", "string")
        if name in ("CommonLabels", "GroupLabels"):
            if name == "GroupLabels":
                self.notes["GroupLabels"] = None
            return Value("incident.labels", "labels")
        if name == "CommonAnnotations":
            return Value("incident", "annotations")
        if name == "Alerts":
            self.notes["Alerts"] = None
            return Value("[incident]", "alerts")
        raise Untranslatable(f"the field .{name} has no counterpart in router's template "
                             "context (docs/channels.md)")

    def annotation(self, alert: str, name: str) -> Value:
        """An annotation of `alert` (the incident, or the loop's alert)."""
        if name != "summary":
            raise Untranslatable(f"the annotation {name!r}: router's template context has no "
                                 "annotations, only the incident's summary")
        self.notes["summary"] = None
        return Value(f"{alert}.summary", "string")

    def call(self, name: str, arguments: list[Value]) -> Value:
        """Alertmanager's function `name` on `arguments` (the piped value last)."""
        if name in _FILTERS:
            [text] = _arity(name, arguments, 1, ("string",))
            if name == "title":
                self.notes["title"] = None
            return Value(f"({text.expression} | {_FILTERS[name]})", "string")
        if name == "len":
            [value] = _arity(name, arguments, 1, ("alerts", "strings", "pairs", "labels",
                                                  "string"))
            return Value(f"({value.expression} | length)", "number")
        if name == "join":
            separator, items = _arity(name, arguments, 2, ("string",), ("strings",))
            return Value(f"({items.expression} | join({separator.expression}))", "string")
        if name == "index":
            return self.index(arguments)
        if name == "reReplaceAll":
            return replace_all(arguments)
        if name in _COMPARISONS:
            return compare(name, arguments)
        if name in ("and", "or"):
            if not arguments:
                raise go.Malformed(f"{name} needs at least one argument")
            kinds = {value.kind for value in arguments}
            joined = f" {name} ".join(truth(value) for value in arguments)
            return Value(f"({joined})", kinds.pop() if len(kinds) == 1 else "any")
        if name == "not":
            [value] = _arity(name, arguments, 1)
            return Value(f"(not {truth(value)})", "bool")
        raise Untranslatable(f"the function {name}")

    def index(self, arguments: list[Value]) -> Value:
        container, key = _arity("index", arguments, 2)
        if container.kind == "labels" and key.kind == "string" and _literal_text(key) is not None:
            return Value(label(container.expression, _literal_text(key) or ""), "string")
        if container.kind == "annotations" and _literal_text(key) is not None:
            return self.annotation(container.expression, _literal_text(key) or "")
        raise Untranslatable(f"index of {describe(container)} by {describe(key)}")


def replace_all(arguments: list[Value]) -> Value:
    """`reReplaceAll pattern replacement text` when both are plain text: Jinja's replace."""
    pattern, replacement, text = _arity("reReplaceAll", arguments, 3, ("string",),
                                        ("string",), ("string",))
    old, new = _literal_text(pattern), _literal_text(replacement)
    if old is None or new is None or not _PLAIN.fullmatch(old) or "$" in new:
        raise Untranslatable("reReplaceAll with a regular expression or a $ in the "
                             "replacement (Jinja has no regular expressions)")
    return Value(f"({text.expression} | replace({pattern.expression}, "
                 f"{replacement.expression}))", "string")


def compare(name: str, arguments: list[Value]) -> Value:
    """Go's comparison functions; `eq a b c` is true when a equals b or c."""
    if len(arguments) < 2 or (name != "eq" and len(arguments) != 2):
        raise go.Malformed(f"{name} takes {'two or more' if name == 'eq' else 'two'} "
                           "arguments")
    first, *others = arguments
    for value in arguments:
        if value.kind not in ("string", "number", "bool"):
            raise Untranslatable(f"{name} on {describe(value)}")
    operator = _COMPARISONS[name]
    tests = [f"{first.expression} {operator} {other.expression}" for other in others]
    return Value(f"({' or '.join(tests)})", "bool")


def _arity(name: str, arguments: list[Value], count: int,
           *kinds: tuple[str, ...]) -> list[Value]:
    if len(arguments) != count:
        raise go.Malformed(f"wrong number of args for {name}: want {count} got "
                           f"{len(arguments)}")
    for value, allowed in zip(arguments, kinds, strict=False):
        if value.kind not in allowed:
            raise Untranslatable(f"{name} of {describe(value)}")
    return arguments


def literal(value: str | int | float | bool | None) -> Value:
    if value is None:
        return Value("none", "nil")
    if isinstance(value, bool):
        return Value("true" if value else "false", "bool")
    if isinstance(value, (int, float)):
        return Value(repr(value), "number")
    return Value(json.dumps(value), "string")


def _literal_text(value: Value) -> str | None:
    """The text of a string literal's expression, or None for anything else."""
    if value.kind != "string" or not value.expression.startswith('"'):
        return None
    try:
        text = json.loads(value.expression)
    except json.JSONDecodeError:
        return None
    return text if isinstance(text, str) else None


def label(mapping: str, name: str) -> str:
    """`mapping.name`, or `mapping["name"]` for a name that is not an identifier or that
    names a method of a mapping (Jinja's `labels.items` would be the method)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name) and name not in _DICT_NAMES:
        return f"{mapping}.{name}"
    return f"{mapping}[{json.dumps(name)}]"


def printed(value: Value) -> str:
    """`{{ value }}`, printed as Go prints it."""
    if value.kind in ("string", "number"):
        return f"{{{{ {value.expression} }}}}"
    if value.kind == "bool":
        return f'{{{{ "true" if {value.expression} else "false" }}}}'
    if value.kind == "strings":  # Go prints a []string as [a b]
        return f'[{{{{ {value.expression} | join(" ") }}}}]'
    raise Untranslatable(f"printing {describe(value)} (Go prints its internal form)")


def truth(value: Value) -> str:
    """The Jinja condition for Go's truth of `value`: empty text, lists, maps, zero, false
    and nil are false in both."""
    if value.kind == "annotations":
        raise Untranslatable("the annotations as a condition")
    return "true" if value.kind == "data" else value.expression


def describe(value: Value) -> str:
    return {"data": "the data (.)", "alerts": "a list of alerts", "alert": "an alert",
            "labels": "a label set", "annotations": "the annotations",
            "pairs": "a list of pairs", "pair": "a pair", "strings": "a list of text",
            "string": "text", "number": "a number", "bool": "a boolean", "nil": "nil",
            }.get(value.kind, "a value")


def describe_operand(operand: go.Operand) -> str:
    if isinstance(operand, go.Field):
        return (operand.root if operand.root == "$" else "") + "." + ".".join(operand.names)
    return type(operand).__name__.lower()
