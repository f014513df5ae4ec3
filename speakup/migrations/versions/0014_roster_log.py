"""roster_log: the roster as a signed, hash-chained log; endorsements and users.endorsement_id go

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 02:00:00.000000

An installation upgraded to this revision has no log yet: nobody is on the roster (new concerns go to the
recovery key alone, and the roster alarm says so) until `speakup roster upgrade --recovery-key-file PATH` starts
the log with the guardians the operator confirms (README, "Upgrading to the roster log").
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'roster_log',
        sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
        sa.Column('kind', sa.String(length=20), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=True),
        sa.Column('statement', sa.LargeBinary(), nullable=False),
        sa.Column('signature', sa.LargeBinary(), nullable=True),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint('seq'),
    )
    with op.batch_alter_table('roster_log', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_roster_log_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('endorsement_id')
    _restore_email_index()
    with op.batch_alter_table('endorsements', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_endorsements_user_id'))
    op.drop_table('endorsements')


def downgrade():
    op.create_table(
        'endorsements',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('user_id', sa.Integer(), nullable=False),
        sa.Column('endorser_id', sa.Integer(), nullable=True),
        sa.Column('parent_id', sa.Integer(), nullable=True),
        sa.Column('statement', sa.LargeBinary(), nullable=False),
        sa.Column('signature', sa.LargeBinary(), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(['endorser_id'], ['users.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['parent_id'], ['endorsements.id'], ondelete='SET NULL'),
        sa.ForeignKeyConstraint(['user_id'], ['users.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('endorsements', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_endorsements_user_id'), ['user_id'], unique=False)
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('endorsement_id', sa.Integer(), nullable=True))
    _restore_email_index()
    with op.batch_alter_table('roster_log', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_roster_log_user_id'))
    op.drop_table('roster_log')


def _restore_email_index():
    """SQLite's batch mode rebuilds the users table from what it can reflect, and it cannot reflect an index on an
    expression: the one-account-per-address index (0005) is made again. PostgreSQL altered the table in place."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('CREATE UNIQUE INDEX IF NOT EXISTS uq_users_email_lower ON users (lower(email))')
