"""The framework's floor: a bare Flask + SQLAlchemy endpoint that stores the same bytes as raising a
concern, without encryption, grants, audit or rate limits.

Served exactly like Speak Up (`gunicorn bench.floor:app -c gunicorn.conf.py`, same workers, threads and
database file or server), so the ratio of a Speak Up figure to the floor's says what the service itself
costs on this machine, whatever else the machine is doing.
"""

from __future__ import annotations

import json
import os
import secrets
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import LargeBinary, String, event, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)

# db.Model is made at run time: to a type checker the rows derive from Base (as speakup/platform/models/base.py).
if TYPE_CHECKING:
    Model = Base
else:
    Model = db.Model


class FloorConcern(Model):
    __tablename__ = "bench_floor_concerns"

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime]


def engine_options(uri: str) -> dict:
    """The same connection settings Speak Up uses, so the floor is not faster for a trivial reason."""
    connect_args = {"connect_timeout": 5} if uri.startswith("postgresql") else {"timeout": 5}
    return {"pool_pre_ping": True, "connect_args": connect_args}


def _same_durability_as_speak_up(dbapi_connection, _record) -> None:
    """The PRAGMAs speakup/platform/sqlite.py runs (the file is already in WAL mode: Speak Up's init made it), so
    the floor's commits reach the disk exactly as Speak Up's do."""
    cursor = dbapi_connection.cursor()
    for pragma in ("secure_delete=ON", "journal_mode=WAL", "synchronous=FULL"):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def bare_app(name: str, database: SQLAlchemy, uri: str | None = None) -> Flask:
    """A Flask app on Speak Up's database with the same connection settings and durability (both floors)."""
    app = Flask(name)
    uri = uri or os.environ["SPEAKUP_SQLALCHEMY_DATABASE_URI"]
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(uri)
    database.init_app(app)
    if uri.startswith("sqlite"):
        with app.app_context():
            event.listen(database.engine, "connect", _same_durability_as_speak_up)
    return app


def create_floor_app(uri: str | None = None) -> Flask:
    app = bare_app(__name__, db, uri)

    @app.post("/floor")
    def insert():
        body = request.get_json()
        text_bytes = json.dumps(
            {"what_happened": body["what_happened"], "where": body.get("where", ""), "when": body.get("when", "")}
        ).encode()
        row = FloorConcern(
            reference="FL-" + secrets.token_hex(6),
            body=text_bytes,
            created_at=datetime.now(UTC).replace(tzinfo=None),
        )
        db.session.add(row)
        db.session.commit()
        return jsonify(reference=row.reference, status="received"), 201

    serve_health(app, db)
    return app


def serve_health(app: Flask, database: SQLAlchemy) -> None:
    """/healthz as Speak Up answers it: the harness waits for it before measuring (both floors)."""

    @app.get("/healthz")
    def healthz():
        database.session.execute(text("SELECT 1"))
        return jsonify(status="ok")


def create_tables(app: Flask, database: SQLAlchemy) -> None:
    with app.app_context():
        database.create_all()
        database.engine.dispose()


def create_floor_table(uri: str) -> None:
    create_tables(create_floor_app(uri), db)


def __getattr__(name: str) -> Flask:
    """`bench.floor:app` for gunicorn, made when first asked for: importing this module's helpers (bench/prepare.py,
    bench/sealed_floor.py) makes no app."""
    if name == "app":
        globals()["app"] = made = create_floor_app()
        return made
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
