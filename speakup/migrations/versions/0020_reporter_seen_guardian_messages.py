"""cases.reporter_seen_guardian_messages: the reporter's case page says which of the guardian's messages are new

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07 15:40:00.000000

A count of the guardian's messages the reporter's page has shown them, raised each time it shows more (issue 26,
point 7): a count, as reporter_writes is, so nothing about when the person read anything is kept. Existing cases
count every guardian message as seen, so nobody is told years-old messages are new.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0020'
down_revision = '0019'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('reporter_seen_guardian_messages', sa.Integer(), server_default='0', nullable=False)
        )
    op.execute(
        "UPDATE cases SET reporter_seen_guardian_messages = "
        "(SELECT COUNT(*) FROM messages m WHERE m.case_id = cases.id AND m.author = 'guardian')"
    )


def downgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('reporter_seen_guardian_messages')
