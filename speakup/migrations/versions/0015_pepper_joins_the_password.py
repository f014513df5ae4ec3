"""users.kdf_peppered: the server's pepper is Argon2id's secret for an account's keys

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 02:55:00.000000

Accounts sealed before this revision keep working without it (false) and are sealed again with it at their next
sign-in.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0015'
down_revision = '0014'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kdf_peppered', sa.Boolean(), server_default=sa.false(), nullable=False))
    _restore_email_index()


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('kdf_peppered')
    _restore_email_index()


def _restore_email_index():
    """SQLite's batch mode may rebuild the users table, without the index on lower(email) (0005): made again."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('CREATE UNIQUE INDEX IF NOT EXISTS uq_users_email_lower ON users (lower(email))')
