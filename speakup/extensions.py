"""Flask extensions, created unbound and initialised in create_app()."""

from __future__ import annotations

from flask import current_app, request
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
