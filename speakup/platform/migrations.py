"""The schema's migrations (Alembic, through Flask-Migrate), loaded only where they are used.

Alembic and Flask-Migrate add about 11 MiB to a process, and a web worker never migrates. So ``create_app`` adds
them only when the flask command line builds the app (for ``flask db ...``), and ``upgrade_schema`` adds them for
``flask speakup init`` and the tests. A gunicorn worker runs without them.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from flask import Flask, current_app

from speakup.platform.models import db

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"  # inside the package, so a wheel carries it


def enable_migrations(app: Flask) -> None:
    """Flask-Migrate for ``app``: its ``flask db`` commands and the migrations folder. Safe to call again."""
    if "migrate" not in app.extensions:
        from flask_migrate import Migrate

        Migrate(app, db, directory=str(MIGRATIONS_DIR), render_as_batch=True)


def downgrade_schema(revision: str) -> None:
    """Undoes the migrations after ``revision``: what going back to the release that ends at it needs first."""
    from flask_migrate import downgrade

    enable_migrations(current_app._get_current_object())  # type: ignore[attr-defined]  # a LocalProxy's
    downgrade(revision=revision)


def upgrade_schema() -> None:
    """Creates or migrates the current app's database to the newest revision."""
    from flask_migrate import upgrade

    enable_migrations(current_app._get_current_object())  # type: ignore[attr-defined]  # a LocalProxy's
    upgrade()


_REVISION = re.compile(r"^(down_revision|revision) = ['\"]?([\w]+|None)['\"]?$", re.M)


@cache
def newest_revision() -> str:
    """The revision a database must be at, read from the migration files' own lines rather than through Alembic
    (which a web worker does not load): the one revision no other names as the one before it."""
    revisions, befores = set(), set()
    for path in (MIGRATIONS_DIR / "versions").glob("*.py"):
        found = dict((name, value) for name, value in _REVISION.findall(path.read_text(encoding="utf-8")))
        revisions.add(found["revision"])
        befores.add(found.get("down_revision"))
    heads = revisions - befores
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} newest revisions, not one")
    return heads.pop()
