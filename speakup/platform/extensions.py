"""Flask extensions, created unbound and initialised in create_app().

Rate limits when their store (Redis) is down
--------------------------------------------
Flask-Limiter 4.1.1, left to itself, lets the store's exception escape from the limit check, so every
limited route answered 500. Its two switches were rejected: ``swallow_errors`` skips the check (a
guesser gets unlimited tries while Redis is down), and ``in_memory_fallback`` counts in each worker's
memory (the budget is multiplied by workers times instances, and it only returns to Redis after a
growing back-off). Instead the store's errors always arrive as ``limits.errors.StorageError`` (create_app
sets ``wrap_exceptions``, with short Redis timeouts: ``RATELIMIT_STORAGE_TIMEOUT``), and:

- **Fail closed**: staff sign-in and every access-code check (the follow-up page and the API) answer 503
  with "we cannot check that just now, try again shortly" (``errors.limit_store_down``; the sign-in and
  follow-up pages keep the form, the API answers JSON with Retry-After). A limit that cannot be counted
  is never skipped, so nobody can guess passwords or access codes while the store is away.
- **Fail open**: raising a concern and adding a file (``submit_limit``) carry on without their limit and
  log a warning, because turning away someone speaking up is worse than a brief flood of submissions.

Nothing is cached about the outage: each request asks the store again, so when Redis returns the limits
count again at once, without restarting anything (redis-py reconnects on the next command).

Every try is counted before it is checked (platform/limit_charges.py), so the store is reached before any work;
giving back a try that did not count (a right code) happens after the answer, and a store that fails then only
leaves that try counted.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import current_app, g, request
from flask_login import LoginManager
from flask_wtf.csrf import CSRFProtect
from limits.errors import StorageError

from speakup.crypto import sealing
from speakup.platform.limit_charges import ChargingLimiter

log = logging.getLogger(__name__)

View = TypeVar("View", bound=Callable[..., Any])


def client_pseudonym() -> str:
    """Rate limits key on a keyed hash of the client address, never the address itself."""
    return sealing.keyed_hash(current_app.config["TOKEN_PEPPER_BYTES"], request.remote_addr or "", "rate-limit")


csrf = CSRFProtect()
# Tries are counted before they are checked, atomically, so a burst never gets more than the limit; those that turn
# out not to count (deduct_when says no) are given back when the request ends (platform/limit_charges.py).
limiter = ChargingLimiter(key_func=client_pseudonym)
login_manager = LoginManager()


# One budget per client for each of these, shared by the HTML pages and the API: a per-route limit
# would multiply the allowed guesses (or submissions) by the number of routes.
ACCESS_CODE_SCOPE = "access-code"
SUBMIT_SCOPE = "submit"

# Raised by a limit check whose store cannot be reached; errors.py (and the sign-in and follow-up
# pages) answer it with 503 "try again shortly". Limits fail closed unless wrapped in fail_open().
LimitStoreDown = StorageError

_VIEW_STARTED = "speakup_limited_view_started"


def fail_open(limit: Callable[[View], View]) -> Callable[[View], View]:
    """Applies ``limit`` to a view, but runs the view without it when the limit's store is down.

    Only an error from the limit check itself is forgiven: once the view has started, a StorageError is
    not caught here, so a view can never run twice.
    """

    def decorate(view: View) -> View:
        @wraps(view)
        def started(*args: Any, **kwargs: Any) -> Any:
            setattr(g, _VIEW_STARTED, True)
            return view(*args, **kwargs)

        limited = limit(started)  # type: ignore[arg-type]

        @wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            try:
                return limited(*args, **kwargs)
            except StorageError:
                if g.get(_VIEW_STARTED):
                    raise
                log.error("rate-limit store unreachable: %s runs without its limit", request.endpoint)
                return view(*args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate


def _access_code_failed(_response: object) -> bool:
    return bool(g.get("access_code_failed"))


# Only wrong codes count: a reporter checking their case often is never locked out by it. Every check is charged
# before the code is looked at and a right code's charge is given back after (limit_charges.py), so codes sent at
# once can never get more checks than the limit.
# Fails closed: with the store down, no access code is checked (503) rather than checked without a limit.
access_code_limit = limiter.shared_limit(
    lambda: current_app.config["ACCESS_CODE_RATE_LIMIT"], scope=ACCESS_CODE_SCOPE, deduct_when=_access_code_failed
)
# Fails open: with the store down a concern can still be raised, unlimited until the store is back.
submit_limit = fail_open(limiter.shared_limit(lambda: current_app.config["SUBMIT_RATE_LIMIT"], scope=SUBMIT_SCOPE))
