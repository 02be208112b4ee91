"""One module per inbound format: parse(body, headers) -> list[Alert]."""
