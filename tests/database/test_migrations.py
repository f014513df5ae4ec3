"""The Alembic migrations build exactly the schema the models describe, on every backend."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from speakup.platform.models import db

# Alembic cannot reflect an index on an expression (SQLite) to compare it: the test below checks that one directly.
EXPRESSION_INDEX = "ignore:.*expression-based index 'uq_users_email_lower'"


@pytest.mark.filterwarnings(EXPRESSION_INDEX)
@pytest.mark.filterwarnings("ignore:Skipped unsupported reflection of expression-based index uq_users_email_lower")
def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, db.metadata)
    assert differences == []


def test_the_schema_refuses_a_second_account_for_the_same_address_in_another_case(app):
    insert = text(
        "INSERT INTO users (email, name, role, is_active, created_at) VALUES (:email, 'Someone', 'guardian', true, "
        "CURRENT_TIMESTAMP)"
    )
    with app.app_context():
        db.session.execute(insert, {"email": "gita@example.org"})
        db.session.commit()
        with pytest.raises(IntegrityError):
            db.session.execute(insert, {"email": "Gita@Example.ORG"})
            db.session.flush()
        db.session.rollback()
