"""Flask extensions, created unbound and initialised in create_app()."""

from __future__ import annotations

from flask import current_app, g, request
from flask_limiter import Limiter
from flask_login import LoginManager
from flask_migrate import Migrate
from flask_wtf.csrf import CSRFProtect

from . import crypto


def client_pseudonym() -> str:
    """Rate limits key on a keyed hash of the client address, never the address itself."""
    return crypto.keyed_hash(current_app.config["TOKEN_PEPPER_BYTES"], request.remote_addr or "", "rate-limit")


csrf = CSRFProtect()
limiter = Limiter(key_func=client_pseudonym)
login_manager = LoginManager()
migrate = Migrate()


# One budget per client for each of these, shared by the HTML pages and the API: a per-route limit
# would multiply the allowed guesses (or submissions) by the number of routes.
ACCESS_CODE_SCOPE = "access-code"
SUBMIT_SCOPE = "submit"


def _access_code_failed(_response: object) -> bool:
    return bool(g.get("access_code_failed"))


# Only wrong codes count: a reporter checking their case often is never locked out by it.
access_code_limit = limiter.shared_limit(
    lambda: current_app.config["ACCESS_CODE_RATE_LIMIT"], scope=ACCESS_CODE_SCOPE, deduct_when=_access_code_failed
)
submit_limit = limiter.shared_limit(lambda: current_app.config["SUBMIT_RATE_LIMIT"], scope=SUBMIT_SCOPE)
