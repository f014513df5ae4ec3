"""how a concern was raised

Concerns a guardian records (raised in person, by phone, email, letter or through a speak up champion) keep how
they were raised in cases.channel, a plain coded value the board report counts; every existing case was raised
online.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 18:45:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('channel', sa.String(length=20), server_default='online', nullable=False))


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('channel')
