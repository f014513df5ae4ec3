"""pepper_stamp on users, stats_tokens and enrolments: what a rotation of the pepper vouched for

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 21:30:00.000000

Outside review: after `speakup rotate-pepper`, whoever held the OLD pepper and could write to the database inserted an
account, a statistics token or an enrolment link made under the old pepper, and the fallback accepted it. The
rotation now stamps every row that may be opened under the old pepper with a keyed hash under the NEW pepper of the
row's identity and what a fallback accepts (docs/protocol.md, "Rotating the pepper"); a row is opened under a
fallback only when its stamp holds. Empty for every row until a rotation (rows under the current pepper need none).
A database upgraded after a rotation done without this column has no stamps: its rows under a fallback stop opening
(an account enrols again, a token or a link is made again), which is the safe side.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

TABLES = ('users', 'stats_tokens', 'enrolments')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('pepper_stamp', sa.String(length=64), nullable=True))
    _restore_email_index()


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('pepper_stamp')
    _restore_email_index()


def _restore_email_index():
    """SQLite's batch mode may rebuild the users table, without the index on lower(email) (0005): made again."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('CREATE UNIQUE INDEX IF NOT EXISTS uq_users_email_lower ON users (lower(email))')
