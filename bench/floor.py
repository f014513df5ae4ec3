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

from flask import Flask, jsonify, request
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import LargeBinary, String, event, text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


db = SQLAlchemy(model_class=Base)


class FloorConcern(db.Model):
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


def create_floor_app(uri: str | None = None) -> Flask:
    app = Flask(__name__)
    uri = uri or os.environ["SPEAKUP_SQLALCHEMY_DATABASE_URI"]
    app.config["SQLALCHEMY_DATABASE_URI"] = uri
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = engine_options(uri)
    db.init_app(app)
    if uri.startswith("sqlite"):
        with app.app_context():
            event.listen(db.engine, "connect", _same_durability_as_speak_up)

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

    @app.get("/healthz")
    def healthz():
        db.session.execute(text("SELECT 1"))
        return jsonify(status="ok")

    return app


def create_floor_table(uri: str) -> None:
    app = create_floor_app(uri)
    with app.app_context():
        db.create_all()
        db.engine.dispose()


if "SPEAKUP_SQLALCHEMY_DATABASE_URI" in os.environ:
    app = create_floor_app()
