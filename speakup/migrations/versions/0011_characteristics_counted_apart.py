"""characteristics of those speaking up, counted apart from any case

cases.characteristics_given says only whether the person answered the voluntary questions about themselves;
characteristic_counts holds the answers as counts per quarter, question and answer, with no link to a case.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 22:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'characteristic_counts',
        sa.Column('quarter', sa.String(length=7), nullable=False),
        sa.Column('question', sa.String(length=40), nullable=False),
        sa.Column('answer', sa.String(length=40), nullable=False),
        sa.Column('count', sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint('quarter', 'question', 'answer'),
    )
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('characteristics_given', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('characteristics_given')
    op.drop_table('characteristic_counts')
