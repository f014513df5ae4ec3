"""cases.language_ct: the language a concern was raised in, sealed under the case key

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-08 00:15:00.000000

Issue 28, point 5: a guardian sees the language the person was using when they raised the concern, so they can
arrange an interpreter. It is a code from a fixed list (speakup/platform/languages.KNOWN), sealed under the case key
with the label `speakup-v1|case:<id>|language|<id>` like the person's name: a fact about them, counted nowhere.
Concerns raised before have none (NULL: "not recorded"), and nothing here can seal one for them (the server holds no
case key). Downgrading drops the column and the languages recorded with it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0026'
down_revision = '0025'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('language_ct', sa.LargeBinary(), nullable=True))


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('language_ct')
