"""referrals

Who a referred case went to (cases.referred_to, a coded value the board report counts) and the guardian's note on
it (cases.referral_ct, sealed under the case key).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 19:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('referred_to', sa.String(length=30), nullable=True))
        batch_op.add_column(sa.Column('referral_ct', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('referral_ct')
        batch_op.drop_column('referred_to')
