"""Incident analysis on the host (room: analysis; imports alerts, core, config, errors, and
the libraries psutil and httpx).

A provider turns what is known of an incident (`model.Request`: the incident, its attached
checks' results, past incidents) into typed recommendations (`model.Result`). Providers are
blocking: the engine runs each in a worker thread of its own bounded pool, under a deadline,
after the incident's first page is committed, so no analysis ever delays a page. The engine
calls this room, never the reverse.
"""
