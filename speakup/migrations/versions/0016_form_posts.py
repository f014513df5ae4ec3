"""form_posts: every HTML form is answered once; a failed form's words are kept sealed for a few minutes

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-07 04:10:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0016'
down_revision = '0015'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'form_posts',
        sa.Column('lookup', sa.String(length=64), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('target', sa.String(length=300), nullable=True),
        sa.Column('kept_ct', sa.LargeBinary(), nullable=True),
        sa.Column('kept_at', sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint('lookup'),
    )
    with op.batch_alter_table('form_posts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_form_posts_created_at'), ['created_at'], unique=False)


def downgrade():
    with op.batch_alter_table('form_posts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_form_posts_created_at'))
    op.drop_table('form_posts')
