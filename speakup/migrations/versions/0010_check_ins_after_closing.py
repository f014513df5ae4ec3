"""check-ins after closing

How many check-ins after closing the reporter answered (cases.check_ins_answered), when they last did
(checked_in_at), and whether they said they suffered detriment since the case closed (detriment_after_closure).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 19:20:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('check_ins_answered', sa.Integer(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('checked_in_at', sa.DateTime(), nullable=True))
        batch_op.add_column(sa.Column('detriment_after_closure', sa.Boolean(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_checked_in_at'), ['checked_in_at'], unique=False)


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_checked_in_at'))
        batch_op.drop_column('detriment_after_closure')
        batch_op.drop_column('checked_in_at')
        batch_op.drop_column('check_ins_answered')
