"""Logging rules: no client address or user agent ever reaches a log line."""

from __future__ import annotations

import logging
import re

# Werkzeug's development server formats "<address> - - [date] "request" status size" before logging.
_LEADING_ADDRESS = re.compile(r"^\S+ - - \[")


class DropClientAddress(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _LEADING_ADDRESS.match(message):
            record.msg = _LEADING_ADDRESS.sub("- - - [", message, count=1)
            record.args = ()
        return True


def init_logging() -> None:
    werkzeug_logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropClientAddress) for f in werkzeug_logger.filters):
        werkzeug_logger.addFilter(DropClientAddress())
