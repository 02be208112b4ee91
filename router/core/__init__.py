"""Pure decisions of (config, state, now): routing, suppression, on-call, incidents, escalation."""
