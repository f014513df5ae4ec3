"""gunicorn's logs, minus what could identify a reporter.

The access format in gunicorn.conf.py already leaves out the client address, user agent and query string. This
logger also hides the path of any request that matched no page (404): someone who pastes their access code into
the address bar must not find it in a log file. And gunicorn's error log would otherwise write
``Invalid request from ip=<address>: <what was sent>`` for a malformed request, and the request line (query
included) with a traceback when a request fails outside the app: both become a line naming only what kind of
thing went wrong.
"""

from __future__ import annotations

import sys

from gunicorn.glogging import Logger

INVALID_REQUEST = "Invalid request from ip="
FAILED_REQUEST = "Error handling request"


class AccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        if str(atoms.get("s")) == "404":
            atoms["U"] = "[path not logged]"
        return atoms

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
