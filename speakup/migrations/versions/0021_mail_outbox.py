"""mail_outbox: guardians' emails wait in the database until a worker sends them

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07 17:40:00.000000

One row per email to one guardian, written in the same transaction as what it announces and deleted once sent
(issue 27, point 1): a mail server that is down no longer loses a notification, and a command that exits no longer
takes its emails with it. Only the fixed "something is waiting" texts and a staff account's address are kept; the
time is to the minute, and send_after adds a random delay to it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0021'
down_revision = '0020'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'mail_outbox',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('recipient', sa.String(length=320), nullable=False),
        sa.Column('subject', sa.String(length=200), nullable=False),
        sa.Column('body', sa.String(length=2000), nullable=False),
        sa.Column('created_at', sa.DateTime(), nullable=False),
        sa.Column('send_after', sa.DateTime(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', sa.DateTime(), nullable=False),
        sa.Column('last_error', sa.String(length=100), nullable=True),
        sa.PrimaryKeyConstraint('id'),
    )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mail_outbox_next_attempt_at'), ['next_attempt_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_mail_outbox_send_after'), ['send_after'], unique=False)


def downgrade():
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_mail_outbox_send_after'))
        batch_op.drop_index(batch_op.f('ix_mail_outbox_next_attempt_at'))
    op.drop_table('mail_outbox')
