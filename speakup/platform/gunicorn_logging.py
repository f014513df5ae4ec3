"""gunicorn's logs, minus what could identify a reporter.

Both logs are one JSON object a line. The access log is in the app's own shape (platform/logs.py: time, level,
logger, message, request_id) plus method, path, status and duration_ms, so one parser reads both logs and the
request id (the app's ``X-Request-Id`` answer header) joins a request's access line to the app's lines. It never
holds the client address, the user agent or the query string, nor the path as sent: ``path`` is the route the app
matched (``/guardian/cases/<reference>``), which the app leaves in the WSGI environ (platform/logs.py), whatever the
status, redirects and refusals included; a request that matched no page is "[path not logged]". Someone who pastes
their access code or a name into the address bar must not find it in a log file. And gunicorn's error log would
otherwise write ``Invalid request from ip=<address>: <what was sent>`` for a malformed request, and the request line
(query included) with a traceback when a request fails outside the app: both become a line naming only what kind
of thing went wrong.
"""

from __future__ import annotations

import logging
import logging.handlers
import sys
from datetime import timedelta
from typing import Any

from gunicorn.glogging import Logger

from speakup.platform.logs import REQUEST_ID_HEADER, ROUTE_ENVIRON_KEY, JsonFormatter, server_route

INVALID_REQUEST = "Invalid request from ip="
FAILED_REQUEST = "Error handling request"


class AccessJsonFormatter(JsonFormatter):
    """The app's JSON line, with the request's fields that AccessLogger.access hands over."""

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        entry = super().fields(record)
        entry.update(getattr(record, "access", None) or {})
        return entry


def _status(resp: Any) -> int | str:
    status = resp.status
    if isinstance(status, str):
        status = status.split(None, 1)[0]
    try:
        return int(status)
    except (TypeError, ValueError):
        return str(status)


def _request_id(resp: Any) -> str | None:
    wanted = REQUEST_ID_HEADER.lower()
    for name, value in getattr(resp, "headers", None) or ():
        if str(name).lower() == wanted:
            return str(value) or None
    return None


def logged_route(environ: dict[str, Any], status: int | str) -> str:
    """The route the app matched for this request (platform/logs.py), never the path as sent."""
    return server_route(environ.get(ROUTE_ENVIRON_KEY), str(environ.get("PATH_INFO", "")), status)


class AccessLogger(Logger):
    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        # gunicorn gives its access handlers a plain "%(message)s" formatter; setup runs again on a reload (HUP).
        # Syslog keeps gunicorn's formatter, which tags each line with the program name syslog files it under.
        for handler in self.access_log.handlers:
            if not isinstance(handler, logging.handlers.SysLogHandler):
                handler.setFormatter(AccessJsonFormatter())
        # gunicorn's own lines (workers booting, timing out, the master's signals) are JSON too, so one parser and
        # one alert rule on "level" read every line the service writes.
        for handler in self.error_log.handlers:
            if not isinstance(handler, logging.handlers.SysLogHandler):
                handler.setFormatter(JsonFormatter())

    def atoms(self, resp, req, environ, request_time):
        # Only a log format setting would read these (access() below picks its own fields); the same rule all the same.
        atoms = super().atoms(resp, req, environ, request_time)
        route = logged_route(environ, _status(resp))
        atoms["U"] = route
        atoms["r"] = f"{environ.get('REQUEST_METHOD')} {route} {environ.get('SERVER_PROTOCOL')}"
        atoms["q"] = ""
        return atoms

    def _access_enabled(self) -> bool:
        enabled = getattr(self, "access_log_enabled", None)  # newer gunicorn; older: the same test spelled out
        if enabled is not None:
            return bool(enabled)
        cfg = self.cfg
        return bool(
            cfg.accesslog
            or cfg.logconfig
            or cfg.logconfig_dict
            or getattr(cfg, "logconfig_json", None)
            or (cfg.syslog and not cfg.disable_redirect_access_to_syslog)
        )

    def access(self, resp, req, environ, request_time: timedelta) -> None:
        """Replaces gunicorn's access_log_format line: picks its fields itself, so no format setting can add the
        address (%(h)s), the user agent (%(a)s), the query (%(q)s) or a request header."""
        if not self._access_enabled():
            return
        status = _status(resp)
        method = environ.get("REQUEST_METHOD")
        path = logged_route(environ, status)
        fields = {
            "request_id": _request_id(resp),
            "method": method,
            "path": path,
            "status": status,
            "duration_ms": round(request_time.total_seconds() * 1000, 1),
        }
        try:
            self.access_log.info("%s %s %s", method, path, status, extra={"access": fields})
        except Exception as error:
            # Not gunicorn's traceback.format_exc(): an exception's text could quote the request.
            self.error("Could not write an access log line: %s", type(error).__name__)

    def warning(self, msg, *args, **kwargs):
        if isinstance(msg, str) and msg.startswith(INVALID_REQUEST):
            # gunicorn formats the address and the offending bytes into the message itself.
            msg, args = "Invalid request refused (client address and request not logged)", ()
        super().warning(msg, *args, **kwargs)

    def exception(self, msg, *args, **kwargs):
        if isinstance(msg, str) and msg.startswith(FAILED_REQUEST):
            error = sys.exc_info()[1]
            kind = type(error).__name__ if error is not None else "unknown error"
            # Neither the request line (it may carry a query) nor the traceback (its message may quote input).
            self.error("Error handling a request: %s (request not logged)", kind)
            return
        super().exception(msg, *args, **kwargs)
