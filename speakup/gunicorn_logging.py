"""gunicorn's access log, minus what could identify a reporter.

The format in gunicorn.conf.py already leaves out the client address, user agent and query string.
This logger also hides the path of any request that matched no page (404): someone who pastes their
access code into the address bar must not find it in a log file.
"""

from __future__ import annotations

from gunicorn.glogging import Logger


class AccessLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        if str(atoms.get("s")) == "404":
            atoms["U"] = "[path not logged]"
        return atoms
