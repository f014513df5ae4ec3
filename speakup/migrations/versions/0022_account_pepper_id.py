"""users.kdf_pepper_id: which pepper an account's keys are sealed under

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07 20:30:00.000000

The pepper's public name (speakup/crypto/sealing.py, pepper_id), never the pepper. Empty for every account until
`speakup rotate-pepper` records the pepper in force (an empty one means the current pepper); an account sealed under
a fallback is sealed again under the current pepper at its next sign-in.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0022'
down_revision = '0021'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kdf_pepper_id', sa.String(length=32), nullable=True))
    _restore_email_index()


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('kdf_pepper_id')
    _restore_email_index()


def _restore_email_index():
    """SQLite's batch mode may rebuild the users table, without the index on lower(email) (0005): made again."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('CREATE UNIQUE INDEX IF NOT EXISTS uq_users_email_lower ON users (lower(email))')
