"""What in the service's database the service did not make, and could silently change what it writes or reads.

The service makes tables, their indexes, sequences and constraints, and nothing else: no trigger, rule, view,
function, operator, cast, policy or extension. Any of those can drop or rewrite a write without an error (outside
review r5, F1: a trigger dropped the roster log's inserts), or change which rows a statement matches (review r7, F2:
an operator ``=`` for the service's varchar comparisons, which PostgreSQL prefers to its own, made "revoke token A"
revoke B). So the check names every object of those kinds that PostgreSQL did not make at ``initdb``: their ids are
below ``FirstNormalObjectId`` (16384), and a new object is never given one (short of editing the catalogues). A
foreign key's own triggers are the one exception, recognised by what they are (internal, a foreign key constraint's,
a function PostgreSQL made), not by a flag a superuser can set by hand (reviews r6 F2 and r7 F1: a constraint
trigger marked internal, running a function put in ``pg_catalog``).

Left, and said in docs/threat-model.md: a superuser who edits the system catalogues by hand (a built-in function's
body, an object's id: review r8, F3) can hide from any check made from inside the database; the service's own role
cannot.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session

FIRST_NORMAL_OID = 16384  # PostgreSQL's FirstNormalObjectId: every object made after initdb has an id at least this

# Objects that change what a statement does wherever they are, named by PostgreSQL's own description of them.
_ANYWHERE = {
    "pg_proc": "function",
    "pg_operator": "operator",
    "pg_cast": "cast",
    "pg_opfamily": "operator family",
    "pg_opclass": "operator class",
    "pg_amop": "operator family member",
    "pg_amproc": "operator family support function",
    "pg_collation": "collation",
    "pg_conversion": "conversion",
    "pg_policy": "row security policy",
    "pg_event_trigger": "event trigger",
    "pg_extension": "extension",
    "pg_transform": "transform",
}


def _postgresql_query() -> str:
    # Made of this module's constants only; the tables' names are a bound parameter.
    made_later = " UNION ALL ".join(
        f"SELECT '{kind}', pg_describe_object('{catalogue}'::regclass, oid, 0) FROM {catalogue} "  # noqa: S608
        f"WHERE oid >= {FIRST_NORMAL_OID}"
        for catalogue, kind in _ANYWHERE.items()
    )
    return (
        # A trigger on a table of the service's name, unless it is a foreign key's own (see the module's words).
        "SELECT 'trigger', t.tgname || ' on ' || c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "  # noqa: S608
        "LEFT JOIN pg_constraint k ON k.oid = t.tgconstraint "
        "WHERE c.relname = ANY(:tables) AND NOT (t.tgisinternal AND k.contype IS NOT DISTINCT FROM 'f' "
        f"AND t.tgfoid < {FIRST_NORMAL_OID}) "
        "UNION ALL SELECT 'rule', rulename || ' on ' || tablename FROM pg_rules WHERE tablename = ANY(:tables) "
        # A view, or anything but a table, of a table's name in any schema (pg_catalog, searched first, too: outside
        # review r8, F2); a second table of that name in another schema.
        "UNION ALL SELECT 'relation that is not a table', n.nspname || '.' || c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = ANY(:tables) AND c.relkind NOT IN ('r', 'p') "
        "UNION ALL SELECT 'table in another schema', n.nspname || '.' || c.relname FROM pg_class c "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relname = ANY(:tables) AND c.relkind IN ('r', 'p') "
        "AND n.nspname <> current_schema() AND n.nspname NOT LIKE 'pg\\_temp\\_%' "
        # A table whose rows join the service table's own reads (inheritance, a partition).
        "UNION ALL SELECT 'table inheriting from a service table', c.relname FROM pg_inherits i "
        "JOIN pg_class p ON p.oid = i.inhparent JOIN pg_class c ON c.oid = i.inhrelid WHERE p.relname = ANY(:tables) "
        "UNION ALL SELECT 'row security', relname FROM pg_class WHERE relname = ANY(:tables) "
        "AND (relrowsecurity OR relforcerowsecurity) "
        f"UNION ALL {made_later}"
    )


def foreign_objects(session: Session, tables: list[str]) -> list[tuple[str, str]]:
    """Each object the service did not make that can change its writes or reads, as (kind, name)."""
    if session.get_bind().dialect.name == "postgresql":
        rows = session.execute(text(_postgresql_query()), {"tables": tables}).all()
    else:
        # SQLite has triggers and views only; a view in a table's place fails the service's first write to it.
        rows = session.execute(
            text("SELECT 'trigger', name || ' on ' || tbl_name FROM sqlite_master WHERE type = 'trigger' "
                 "UNION ALL SELECT 'relation that is not a table', name FROM sqlite_master WHERE type = 'view'")
        ).all()  # fmt: skip
        rows = [row for row in rows if row[1].rpartition(" on ")[2] in tables]
    return [(str(kind), str(name)) for kind, name in rows]
