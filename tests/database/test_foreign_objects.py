"""Every kind of object the service does not make is named by ``/healthz`` (``database_triggers``), however it was
disguised (outside review r7, F1 and F2).

r7 F1: a constraint trigger, marked internal by hand and running a function put in ``pg_catalog``, passed the
check (it was internal, belonged to a constraint and ran a function in ``pg_catalog``); it undid an administrator's
"Disable" and kept a signed-out session's row. r7 F2: an operator ``=`` for ``varchar``, which PostgreSQL prefers to
its own for the service's comparisons, made "revoke token B" revoke A; nothing named it. Each case below makes one
object in the test's database, checks it is named (and logged at ERROR), and removes it."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import text
from support.apps import POSTGRES_URL

from speakup.platform.models import db

# (what is made, the SQL that makes it, the SQL that removes it)
OBJECTS = [
    (
        "constraint trigger marked internal, running a function in pg_catalog (r7 F1)",
        "CREATE FUNCTION pg_catalog.zz_keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL;END $$; "
        "CREATE CONSTRAINT TRIGGER zz_keep AFTER DELETE ON staff_sessions FOR EACH ROW "
        "EXECUTE FUNCTION pg_catalog.zz_keep(); "
        "UPDATE pg_trigger SET tgisinternal = true WHERE tgname = 'zz_keep'",
        "UPDATE pg_trigger SET tgisinternal = false WHERE tgname = 'zz_keep'; "
        "DROP TRIGGER IF EXISTS zz_keep ON staff_sessions; DROP FUNCTION IF EXISTS pg_catalog.zz_keep()",
    ),
    (
        "an operator = running PostgreSQL's own function (r7 F2)",
        "CREATE OPERATOR public.= (LEFTARG = text, RIGHTARG = text, FUNCTION = textne)",
        "DROP OPERATOR IF EXISTS public.= (text, text)",
    ),
    (
        "a function",
        "CREATE FUNCTION public.zz_f() RETURNS int LANGUAGE sql AS 'SELECT 1'",
        "DROP FUNCTION IF EXISTS public.zz_f()",
    ),
    (
        "an implicit cast",
        "CREATE FUNCTION public.zz_cast(bool) RETURNS bytea LANGUAGE sql AS 'SELECT NULL::bytea'; "
        "CREATE CAST (bool AS bytea) WITH FUNCTION public.zz_cast(bool) AS IMPLICIT",
        "DROP CAST IF EXISTS (bool AS bytea); DROP FUNCTION IF EXISTS public.zz_cast(bool)",
    ),
    (
        "row security with a policy",
        "ALTER TABLE users ENABLE ROW LEVEL SECURITY; ALTER TABLE users FORCE ROW LEVEL SECURITY; "
        "CREATE POLICY zz_policy ON users USING (true)",
        "DROP POLICY IF EXISTS zz_policy ON users; ALTER TABLE users NO FORCE ROW LEVEL SECURITY; "
        "ALTER TABLE users DISABLE ROW LEVEL SECURITY",
    ),
    (
        "a collation that makes different words equal",
        "CREATE COLLATION public.zz_ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)",
        "DROP COLLATION IF EXISTS public.zz_ci",
    ),
    (
        "an operator family",
        "CREATE OPERATOR FAMILY public.zz_family USING btree",
        "DROP OPERATOR FAMILY IF EXISTS public.zz_family USING btree",
    ),
    (
        "a table of the service's name in another schema",
        "CREATE SCHEMA zz_shadow; CREATE TABLE zz_shadow.stats_tokens (id int)",
        "DROP SCHEMA IF EXISTS zz_shadow CASCADE",
    ),
    (
        "a view in pg_catalog, searched first, in a table's place (r8 F2)",
        "SET allow_system_table_mods = on; CREATE VIEW pg_catalog.stats_tokens AS SELECT * FROM public.stats_tokens",
        "SET allow_system_table_mods = on; DROP VIEW IF EXISTS pg_catalog.stats_tokens",
    ),
    (
        "a table inheriting from a service table (r8 F4)",
        "CREATE TABLE public.zz_child () INHERITS (public.stats_tokens)",
        "DROP TABLE IF EXISTS public.zz_child",
    ),
    (
        "an event trigger",
        "CREATE FUNCTION public.zz_event() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$; "
        "CREATE EVENT TRIGGER zz_event ON ddl_command_start EXECUTE FUNCTION public.zz_event()",
        "DROP EVENT TRIGGER IF EXISTS zz_event; DROP FUNCTION IF EXISTS public.zz_event()",
    ),
    (
        "a plain trigger",
        "CREATE FUNCTION public.zz_t() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NULL;END $$; "
        "CREATE TRIGGER zz_t BEFORE INSERT ON roster_log FOR EACH ROW EXECUTE FUNCTION public.zz_t()",
        "DROP TRIGGER IF EXISTS zz_t ON roster_log; DROP FUNCTION IF EXISTS public.zz_t()",
    ),
]


def _execute(app: Flask, statements: str) -> None:
    with app.app_context():
        for statement in statements.split("; "):
            db.session.execute(text(statement))
        db.session.commit()


def _named(app: Flask) -> bool:
    return "database_triggers" in (app.test_client().get("/healthz").get_json().get("failed") or {})


@pytest.mark.skipif(not POSTGRES_URL, reason="SPEAKUP_TEST_DATABASE_URL is not set")
@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize(("what", "make", "remove"), OBJECTS, ids=[what for what, _make, _remove in OBJECTS])
def test_healthz_names_an_object_the_service_did_not_make(
    app: Flask, caplog: Any, what: str, make: str, remove: str
) -> None:
    assert not _named(app)
    _execute(app, make)
    try:
        with caplog.at_level(logging.ERROR):
            assert _named(app), what
        assert any(r.getMessage().startswith("database_trigger_found") for r in caplog.records)
    finally:
        _execute(app, remove)
    assert not _named(app)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_healthz_names_a_view_in_a_tables_place_on_sqlite(app: Flask) -> None:
    _execute(
        app,
        "ALTER TABLE mail_outbox RENAME TO mail_outbox_kept; CREATE VIEW mail_outbox AS SELECT * FROM mail_outbox_kept",
    )
    try:
        assert _named(app)
    finally:
        _execute(app, "DROP VIEW mail_outbox; ALTER TABLE mail_outbox_kept RENAME TO mail_outbox")
    assert not _named(app)
