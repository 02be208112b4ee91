"""One module per inbound format: parse(body, headers) -> list[Alert]."""

from router.alerts.formats._json import FieldLimits
from router.alerts.formats._json import decode as decode_json
from router.alerts.formats._json import kind as json_kind

__all__ = ["FieldLimits", "decode_json", "json_kind"]
