"""Every migration goes down and up again (issue 27, point 5: the rollback path is tested): from the newest schema
to an empty database and back gives the same schema, and the newest migration undone and redone with a case in
the database leaves the case as it was, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from flask import Flask
from flask_migrate import downgrade, upgrade
from psycopg import sql
from sqlalchemy import Engine, inspect, text
from support import processes
from support.apps import POSTGRES_URL, SUITE_POSTGRES_URL, make_app
from support.factories import gen_concern
from support.html import following_up

from speakup.platform.migrations import enable_migrations, newest_revision, upgrade_schema
from speakup.platform.models import db


def _schema(engine: Engine) -> dict[str, object]:
    """Each table's columns (name, type, nullable), indexes and unique constraints, as the database reports them."""
    found = inspect(engine)
    return {
        table: (
            sorted((c["name"], str(c["type"]), c["nullable"]) for c in found.get_columns(table)),
            sorted((i["name"], tuple(i["column_names"]), bool(i["unique"])) for i in found.get_indexes(table)),
            sorted(tuple(u["column_names"]) for u in found.get_unique_constraints(table)),
        )
        for table in sorted(found.get_table_names())
    }


@pytest.fixture
def empty_database_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/migrations.sqlite"
        return
    if not SUITE_POSTGRES_URL or not POSTGRES_URL:
        pytest.skip("SPEAKUP_TEST_DATABASE_URL is not set")
    name = POSTGRES_URL.rpartition("/")[2] + "_migrations"  # this test process's own
    processes.empty_postgres_database(SUITE_POSTGRES_URL, name)
    yield f"{SUITE_POSTGRES_URL.rpartition('/')[0]}/{name}"
    with psycopg.connect(SUITE_POSTGRES_URL, autocommit=True, connect_timeout=5) as connection:
        connection.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.mark.parametrize("empty_database_url", ["sqlite", "postgresql"], indirect=True)
def test_every_migration_goes_down_to_nothing_and_up_to_the_same_schema(empty_database_url: str):
    app = make_app(empty_database_url)
    with app.app_context():
        enable_migrations(app)
        newest = _schema(db.engine)
        db.session.remove()
        downgrade(revision="base")
        assert set(inspect(db.engine).get_table_names()) <= {"alembic_version"}
        upgrade()
        assert _schema(db.engine) == newest
        db.engine.dispose()


def test_the_newest_migration_undone_and_redone_keeps_a_case(app: Flask, client):
    """What rolling back the latest release does to the database, and rolling forward again."""
    raised = gen_concern(client, what_happened="Zebra-5521 the hoist was broken")
    with app.app_context():
        enable_migrations(app)
        db.session.remove()
        newest = newest_revision()
        downgrade(revision="-1")
        upgrade(revision=newest)
    page = following_up(app, raised["access_code"]).get("/follow-up/case").get_data(as_text=True)
    assert "Zebra-5521 the hoist was broken" in page


def test_the_operators_downgrade_command_undoes_this_releases_migrations(app: Flask, runner):
    """`speakup downgrade-schema --to REVISION`, as docs/deploy.md's rollback runs it, then `init` to come back."""
    raised = gen_concern(app.test_client(), what_happened="Zebra-5522 the lift was stuck")
    older = f"{int(newest_revision()) - 1:04d}"
    undone = runner.invoke(args=["speakup", "downgrade-schema", "--to", older])
    assert undone.exit_code == 0 and f"Schema now at {older}" in undone.output, undone.output
    with app.app_context():
        assert db.session.execute(text("SELECT version_num FROM alembic_version")).scalar() == older
        db.session.remove()
        upgrade_schema()
    page = following_up(app, raised["access_code"]).get("/follow-up/case").get_data(as_text=True)
    assert "Zebra-5522 the lift was stuck" in page
