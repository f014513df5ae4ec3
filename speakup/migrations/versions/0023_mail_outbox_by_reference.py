"""mail_outbox: a row names its email's kind and account, never its text or address

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07 20:40:00.000000

Outside review, finding F3: a database writer inserted a row with their own address, subject and body, and the
worker sent it from the trust's sender. A row now holds a kind of notify.py's fixed texts (and, for deadlines, how
many) and the staff account's id; the worker makes the text and reads the address when it sends. Rows waiting at
the upgrade are kept where their subject is one of the fixed ones and their address an account's; the others could
not be sent by the new worker and are deleted. The downgrade writes the texts and addresses back.
"""
import re

from alembic import op
import sqlalchemy as sa

from speakup.platform.public_urls import public_url  # the one reader of the service's public address


# revision identifiers, used by Alembic.
revision = '0023'
down_revision = '0022'
branch_labels = None
depends_on = None

# The texts as they were at this revision (notify.py may change them later; this migration must not).
TEXTS = {
    'new_concern': ('A new concern has been raised', 'A new concern is waiting for you in Speak Up.'),
    'reporter_replied': (
        'The person who raised a concern has replied',
        'The person who raised a concern has replied. Their reply is waiting for you in Speak Up.',
    ),
    'deadline_due': ('A case deadline is coming up', 'A case deadline in Speak Up is coming up.'),
    'roster_changed': (
        'The guardians who can read concerns have changed',
        'A guardian account was added, approved, reset or disabled in Speak Up. Sign in and open Team to check '
        'that the change was expected.',
    ),
}
DEADLINES = re.compile(r'([0-9]{1,6}) case deadlines are coming up')


def _kind_of(subject):
    for kind, (fixed, _text) in TEXTS.items():
        if subject == fixed:
            return kind, (1 if kind == 'deadline_due' else None)
    found = DEADLINES.fullmatch(subject)
    return ('deadline_due', int(found.group(1))) if found else (None, None)


def _text_of(kind, deadlines):
    subject, text = TEXTS[kind]
    if kind == 'deadline_due' and deadlines and deadlines > 1:
        subject, text = f'{deadlines} case deadlines are coming up', f'{deadlines} case deadlines in Speak Up are coming up.'
    return subject, f"{text}\n\nSign in to Speak Up: {public_url('/guardian/')}\n"


def upgrade():
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('kind', sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('deadlines', sa.Integer(), nullable=True))
    connection = op.get_bind()
    waiting = connection.execute(sa.text(
        'SELECT mail_outbox.id, mail_outbox.subject, users.id FROM mail_outbox '
        'LEFT JOIN users ON users.email = mail_outbox.recipient'
    )).all()
    for row_id, subject, user_id in waiting:
        kind, deadlines = _kind_of(subject)
        if kind is None or user_id is None:
            connection.execute(sa.text('DELETE FROM mail_outbox WHERE id = :id'), {'id': row_id})
        else:
            connection.execute(
                sa.text('UPDATE mail_outbox SET kind = :kind, user_id = :user, deadlines = :deadlines WHERE id = :id'),
                {'kind': kind, 'user': user_id, 'deadlines': deadlines, 'id': row_id},
            )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.alter_column('kind', existing_type=sa.String(length=40), nullable=False)
        batch_op.alter_column('user_id', existing_type=sa.Integer(), nullable=False)
        batch_op.drop_column('recipient')
        batch_op.drop_column('subject')
        batch_op.drop_column('body')


def downgrade():
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recipient', sa.String(length=320), nullable=True))
        batch_op.add_column(sa.Column('subject', sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column('body', sa.String(length=2000), nullable=True))
    connection = op.get_bind()
    waiting = connection.execute(sa.text(
        'SELECT mail_outbox.id, mail_outbox.kind, mail_outbox.deadlines, users.email FROM mail_outbox '
        'LEFT JOIN users ON users.id = mail_outbox.user_id'
    )).all()
    for row_id, kind, deadlines, email in waiting:
        if kind not in TEXTS or email is None:
            connection.execute(sa.text('DELETE FROM mail_outbox WHERE id = :id'), {'id': row_id})
            continue
        subject, body = _text_of(kind, deadlines)
        connection.execute(
            sa.text('UPDATE mail_outbox SET recipient = :to, subject = :subject, body = :body WHERE id = :id'),
            {'to': email, 'subject': subject, 'body': body, 'id': row_id},
        )
    with op.batch_alter_table('mail_outbox', schema=None) as batch_op:
        batch_op.alter_column('recipient', existing_type=sa.String(length=320), nullable=False)
        batch_op.alter_column('subject', existing_type=sa.String(length=200), nullable=False)
        batch_op.alter_column('body', existing_type=sa.String(length=2000), nullable=False)
        batch_op.drop_column('deadlines')
        batch_op.drop_column('user_id')
        batch_op.drop_column('kind')
