"""Logging rules: one JSON object per line, with a request id; no client address or user agent ever
reaches a log line, nor a query string, form data or the message of an exception.

Each line carries time, level, logger, message and, inside a request, request_id (random, made here, never
taken from the client; also sent back as the ``X-Request-Id`` header), method and route (the URL rule, such as
``/guardian/cases/<reference>``, never the concrete path). Each request ends with one INFO line that adds status
and duration_ms. An exception adds its type and traceback frames only. gunicorn's access log writes the same lines
(platform/gunicorn_logging.py), and the development server its request line, both naming the same route: a path can
hold anything a person pasted into the address bar (an access code, a name), whatever the status of the answer, so
no log line holds one. A request that matched no page is "[path not logged]".
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import threading
import time
import traceback
from datetime import UTC, datetime
from typing import IO, Any

from flask import Flask, Response, g, has_request_context, request

# Werkzeug's development server formats "<address> - - [date] "request" status size" before logging.
_LEADING_ADDRESS = re.compile(r"^\S+ - - \[")
# ... and its request line: "METHOD /path?query HTTP/1.1" status size, in terminal colours when it can. The path is
# whatever lies between the method and the last " HTTP/": it may hold quotes or spaces, and none of it is kept.
_REQUEST_LINE = re.compile(
    r'"(?:\x1b\[[\d;]*m)*(?P<method>[A-Z]+) (?P<path>.*) (?P<version>HTTP/[\d.]+)(?:\x1b\[[\d;]*m)*" (?P<code>\d+)'
)

PATH_NOT_LOGGED = "[path not logged]"
# Where the app leaves the route it matched, for the server's own log line: in the WSGI environ for gunicorn
# (gunicorn_logging.py reads it), and on the thread for werkzeug's development server, which logs its request line
# after the app answered, on the thread that answered, but hands its logger only the text.
ROUTE_ENVIRON_KEY = "speakup.route"
_answered = threading.local()
# The pages' own files, which WhiteNoise serves before the app sees the request (web/assets.py): content-hashed
# names anyone can fetch, logged as one route like any page.
ASSETS_PREFIX = "/assets/"
ASSETS_ROUTE = "/assets/<file>"


def server_route(route: object, path: str, status: int | str) -> str:
    """What a server's log line says for a request: ``route``, the one the app left for it, or for a request the
    app never saw, the assets' route when WhiteNoise served one of their files, else that the path is not logged."""
    if route is not None:
        return str(route)
    served = str(status).isdigit() and int(status) < 400
    return ASSETS_ROUTE if served and path.startswith(ASSETS_PREFIX) else PATH_NOT_LOGGED


REQUEST_ID_HEADER = "X-Request-Id"
# Logged at DEBUG: load balancers and monitoring poll, pages fetch their files.
_QUIET_PREFIXES = ("/assets/", "/healthz", "/readyz", "/livez")
_HANDLER_MARK = "_speakup_json_handler"


class DropClientAddress(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if _LEADING_ADDRESS.match(message):
            record.msg = _LEADING_ADDRESS.sub("- - - [", message, count=1)
            record.args = ()
        return True


def logged_route() -> str:
    """What a log line says for this request's path: the URL rule it matched, or that the path is not logged."""
    rule = request.url_rule
    return rule.rule if rule is not None else PATH_NOT_LOGGED


class DropQueryAndUnmatchedPath(logging.Filter):
    """Werkzeug's request lines name the route the app matched on this thread (never the path, nor its query)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()

        def clean(match: re.Match[str]) -> str:
            # Taken, not read: a thread that next answers a request the app never sees (a file WhiteNoise serves)
            # must not name this one's route.
            route = server_route(_answered.__dict__.pop("route", None), match["path"], match["code"])
            return f'"{match["method"]} {route} {match["version"]}" {match["code"]}'

        cleaned = _REQUEST_LINE.sub(clean, message)
        if cleaned != message:
            record.msg, record.args = cleaned, ()
        return True


def request_id() -> str | None:
    """This request's id, made on first use. None outside a request."""
    if not has_request_context():
        return None
    value = g.get("request_id")
    if value is None:
        value = g.request_id = secrets.token_hex(12)
    return value


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.fields(record), ensure_ascii=False, default=str)

    def fields(self, record: logging.LogRecord) -> dict[str, Any]:
        """The line as a dict; gunicorn's access log (platform/gunicorn_logging.py) adds its own keys to it."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": None,
        }
        if has_request_context():
            rule = request.url_rule
            entry.update(request_id=request_id(), method=request.method, route=rule.rule if rule else None)
        for key in ("status", "duration_ms"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_info and record.exc_info[0] is not None:
            # The type and where it happened; never str(exception), which could carry what a person typed.
            entry["exception"] = record.exc_info[0].__name__
            entry["traceback"] = traceback.format_tb(record.exc_info[2])
        if record.stack_info:
            entry["stack"] = record.stack_info
        return entry


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def make_handler(stream: IO[str] | None = None) -> logging.Handler:
    """The JSON handler; to sys.stderr unless a stream is given (the log test captures into a buffer)."""
    handler: logging.Handler = _StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    return handler


def _install(logger: logging.Logger) -> None:
    from flask.logging import default_handler

    logger.removeHandler(default_handler)
    if not any(getattr(h, _HANDLER_MARK, False) for h in logger.handlers):
        handler = make_handler()
        setattr(handler, _HANDLER_MARK, True)
        logger.addHandler(handler)


def init_logging(app: Flask | None = None) -> None:
    werkzeug_logger = logging.getLogger("werkzeug")
    if not any(isinstance(f, DropClientAddress) for f in werkzeug_logger.filters):
        werkzeug_logger.addFilter(DropClientAddress())
    if not any(isinstance(f, DropQueryAndUnmatchedPath) for f in werkzeug_logger.filters):
        werkzeug_logger.addFilter(DropQueryAndUnmatchedPath())
    if app is None:
        return

    environment = app.config.get("ENVIRONMENT")
    speakup_logger = logging.getLogger("speakup")
    _install(speakup_logger)
    default_level = "WARNING" if environment == "testing" else "INFO"
    speakup_logger.setLevel(str(app.config.get("LOG_LEVEL") or default_level).upper())
    if environment == "development":
        _install(werkzeug_logger)
        if werkzeug_logger.level == logging.NOTSET:
            werkzeug_logger.setLevel(logging.INFO)

    completion = logging.getLogger("speakup.requests")

    def _started() -> None:
        g.log_started = time.perf_counter()
        request_id()
        # Here, not at the end: the first thing every request runs, even one refused or failing before its view.
        request.environ[ROUTE_ENVIRON_KEY] = _answered.route = logged_route()

    # First of all before_request functions, so the duration covers the rate limiter's check too.
    app.before_request_funcs.setdefault(None, []).insert(0, _started)

    @app.after_request
    def _finished(response: Response) -> Response:
        response.headers[REQUEST_ID_HEADER] = request_id() or ""
        started = g.get("log_started")
        duration = round((time.perf_counter() - started) * 1000, 1) if started is not None else None
        rule = request.url_rule
        level = logging.DEBUG if request.path.startswith(_QUIET_PREFIXES) else logging.INFO
        completion.log(
            level,
            "%s %s %s",
            request.method,
            rule.rule if rule else "[no route]",
            response.status_code,
            extra={"status": response.status_code, "duration_ms": duration},
        )
        return response
