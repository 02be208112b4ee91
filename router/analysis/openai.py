"""The OpenAI-compatible provider (room: analysis; httpx): a model on the team's own network
(Ollama, vLLM, llama.cpp's server, or any server of `/v1/chat/completions`) asked for JSON
recommendations about an incident.

The local provider always runs first: its findings go into the prompt, and its result is
the answer whenever the model's is not usable (an error, no answer in time, a 4xx or 5xx,
an answer that is not the JSON asked for), with `fallback_used` and the reason recorded.
The model's HTTP deadline is three quarters of the analysis's `timeout` counted from the
analysis's start (the local run comes first), so the fallback still fits in it. Nothing
here runs unless a route or service names this provider.
"""

from __future__ import annotations

import json
import math
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import httpx

from router.analysis.model import PRIORITIES, Provider, Recommendation, Request, Result
from router.config.model import Analysis

PATH = "/v1/chat/completions"
SHARE_OF_TIMEOUT = 0.75
"""The model's part of the analysis's timeout; the rest is for the local fallback's."""
ANSWER_LIMIT = 1_000_000
"""An answer longer than this (bytes) is not read as one."""
_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)

INSTRUCTIONS = """You analyse incidents for an on-call engineer on an air-gapped host.
Answer with ONE JSON object and nothing else, of this shape:
{"summary": "one or two sentences", "probable_cause": "the most likely cause",
 "confidence": 0.0 to 1.0,
 "recommendations": [{"type": "memory|disk|cpu|process|network|history|general",
   "priority": "critical|high|medium|low", "title": "short imperative",
   "description": "why", "actions": ["a command or step", "..."]}]}
Base it on the incident, its check results, the host's findings and its past incidents."""


class ModelError(Exception):
    """Why the model's answer cannot be used; the run records it with the fallback."""


class ModelProvider:
    """Asks the model at `settings.base_url`; falls back to `fallback` (the local provider)."""

    name = "openai_compatible"

    def __init__(self, settings: Analysis, *, fallback: Provider,
                 transport: httpx.BaseTransport | None = None) -> None:
        self.settings = settings
        self.fallback = fallback
        self._transport = transport

    def analyse(self, request: Request) -> Result:
        share = self.settings.timeout.total_seconds() * SHARE_OF_TIMEOUT
        deadline = time.monotonic() + share  # from the start: the local run is first
        local = self.fallback.analyse(request)
        try:
            answer, usage = self._ask(prompt(request, local), deadline, share)
            return _result(answer, usage, local, self.settings.model)
        except ModelError as error:
            return replace(local, fallback_used=True, error=str(error),
                           model=self.settings.model)

    def _ask(self, messages: list[dict[str, str]], deadline: float,
             share: float) -> tuple[dict[str, Any], Mapping[str, Any]]:
        """The model's answer by `deadline` (`share` seconds after the analysis began)."""
        settings = self.settings
        seconds = deadline - time.monotonic()
        if seconds <= 0:  # the local analysis took the model's share
            raise ModelError(f"the model gave no answer in {share:g}s")
        headers = {"Content-Type": "application/json"}
        if settings.api_key is not None:
            headers["Authorization"] = f"Bearer {settings.api_key.reveal()}"
        body = {"model": settings.model, "messages": messages,
                "max_tokens": settings.max_tokens, "temperature": 0.2, "stream": False}
        try:
            with httpx.Client(timeout=seconds, transport=self._transport,
                              trust_env=False) as client, client.stream(
                    "POST", settings.base_url.rstrip("/") + PATH, json=body,
                    headers=headers) as response:
                if response.status_code != 200:
                    raise ModelError(f"the model answered {response.status_code}")
                raw = _read(response, deadline)
        except httpx.TimeoutException:
            raise ModelError(f"the model gave no answer in {share:g}s") from None
        except httpx.HTTPError as error:
            raise ModelError(f"the model could not be reached ({type(error).__name__})") \
                from None
        if raw is None:
            raise ModelError(f"the model gave no answer in {share:g}s")
        return _content(raw)


def _read(response: httpx.Response, deadline: float) -> bytes | None:
    """The answer's body, read as it comes: at most `ANSWER_LIMIT` bytes (one more and it
    is too long), and None once `deadline` passes. httpx's timeout bounds each read, not
    the whole: a server that streams without end or drips a byte at a time would otherwise
    hold the worker's thread (and memory) for ever."""
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > ANSWER_LIMIT:
            raise ModelError("the model's answer is too long")
        if time.monotonic() > deadline:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def prompt(request: Request, local: Result) -> list[dict[str, str]]:
    """The chat messages: the instructions, then the incident and what is known of it."""
    facts = {
        "incident": {"id": request.incident_id, "title": request.title,
                     "severity": request.severity, "service": request.service,
                     "labels": dict(request.labels), "annotations": dict(request.annotations)},
        "check_results": {name: dict(result) for name, result in request.checks.items()},
        "host_findings": {"summary": local.summary,
                          "recommendations": [item.as_json() for item in
                                              local.recommendations]},
        "past_incidents": dict(request.past),
    }
    return [{"role": "system", "content": INSTRUCTIONS},
            {"role": "user", "content": json.dumps(facts, default=str, sort_keys=True)}]


def _content(raw: bytes) -> tuple[dict[str, Any], Mapping[str, Any]]:
    """The JSON object the model answered with, and the `usage` counts."""
    if len(raw) > ANSWER_LIMIT:
        raise ModelError("the model's answer is too long")
    try:
        document = json.loads(raw)
        text = document["choices"][0]["message"]["content"]
        usage = document.get("usage") or {}
    except (ValueError, KeyError, IndexError, TypeError, RecursionError):  # deep nesting
        raise ModelError("the model's answer is not a chat completion") from None
    if not isinstance(text, str):
        raise ModelError("the model's answer has no text")
    return parse_answer(text), usage if isinstance(usage, dict) else {}


def parse_answer(text: str) -> dict[str, Any]:
    """The JSON object in `text`: all of it, in a ```json fence, or from its first `{` to
    its last `}`."""
    fenced = _FENCE.search(text)
    candidates = [text, *([fenced.group(1)] if fenced else []),
                  text[text.find("{"):text.rfind("}") + 1]]
    for candidate in candidates:
        try:
            found = json.loads(candidate)
        except (ValueError, RecursionError):  # json's error for deep nesting
            continue
        if isinstance(found, dict) and isinstance(found.get("recommendations"), list):
            return found
    raise ModelError("the model's answer is not the JSON asked for")


def _result(answer: dict[str, Any], usage: Mapping[str, Any], local: Result,
            model: str) -> Result:
    """The model's answer as a result. A value of the wrong type (a list for the summary, a
    mapping for a title) is left out rather than shown as Python's text of it; an answer
    that lists recommendations none of which is usable is not the JSON asked for."""
    items = answer["recommendations"]
    recommendations = tuple(_recommendation(item) for item in items
                            if isinstance(item, dict) and _text(item.get("title")))
    if items and not recommendations:
        raise ModelError("the model's answer is not the JSON asked for")
    confidence = answer.get("confidence")
    return Result(
        summary=_text(answer.get("summary")) or local.summary,
        probable_cause=_text(answer.get("probable_cause")),
        confidence=min(1.0, max(0.0, float(confidence)))
        if isinstance(confidence, (int, float)) and not isinstance(confidence, bool)
        and math.isfinite(confidence) else None,
        recommendations=recommendations, findings={**local.findings, "local": {
            "summary": local.summary,
            "recommendations": [item.as_json() for item in local.recommendations]}},
        model=model, prompt_tokens=_count(usage, "prompt_tokens"),
        completion_tokens=_count(usage, "completion_tokens"),
        total_tokens=_count(usage, "total_tokens"))


def _text(value: object) -> str:
    """`value` if it is a string, else empty (the model answered another type)."""
    return value.strip() if isinstance(value, str) else ""


def _recommendation(item: Mapping[str, Any]) -> Recommendation:
    priority = _text(item.get("priority")).lower()
    actions = item.get("actions")
    return Recommendation(
        type=_text(item.get("type")) or "general",
        priority=priority if priority in PRIORITIES else "medium",
        title=_text(item["title"]), description=_text(item.get("description")),
        actions=tuple(action for action in actions if _text(action))
        if isinstance(actions, list) else (),
        details={"from": "model"})


def _count(usage: Mapping[str, Any], name: str) -> int | None:
    value = usage.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
