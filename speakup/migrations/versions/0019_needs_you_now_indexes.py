"""Partial indexes for the queue's "Needs you now": cases with detriment reported, cases the reporter wrote to

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-07 15:00:00.000000

The queue counts, for each guardian, the cases to acknowledge, with a reply waiting, overdue, and with detriment
reported (speakup/domain/triage.py, ``needs_you_now``). The first and third read the indexes on status and next_due;
these two give the others an index too, each holding only the cases it can find (most cases have neither), so a new
concern adds no entry to either.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0019'
down_revision = '0018'
branch_labels = None
depends_on = None


def upgrade():
    op.create_index(
        'ix_cases_detriment', 'cases', ['next_due'], unique=False,
        sqlite_where=sa.text('detriment_reported = 1 OR detriment_after_closure = 1'),
        postgresql_where=sa.text('detriment_reported = true OR detriment_after_closure = true'),
    )
    op.create_index(
        'ix_cases_reporter_writes', 'cases', ['reporter_writes'], unique=False,
        sqlite_where=sa.text('reporter_writes > 0'),
        postgresql_where=sa.text('reporter_writes > 0'),
    )


def downgrade():
    op.drop_index('ix_cases_reporter_writes', table_name='cases')
    op.drop_index('ix_cases_detriment', table_name='cases')
