"""users.identity_stamp covers the account's name: how a reporter chooses whom to exclude

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-08 03:05:00.000000

Outside review r8, F1: the names the raise form offers for exclusion came from `users.name`, which nothing vouched
for; a database writer who swapped two guardians' names had the concern sent to the guardian the reporter excluded.
The stamp (speakup/keys/account_identity.py) now covers the name too, and a guardian whose stamp does not hold
receives no case key (speakup/keys/roster.py). The upgrade stamps again, with the name, every row whose stamp holds as
migration 0025 made it, under the pepper configured; a row whose stamp does not hold stays as it is (still refused).
The downgrade stamps each row whose new stamp holds as 0025 did.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0027'
down_revision = '0026'
branch_labels = None
depends_on = None

# The stamps as speakup/keys/account_identity.py made them before and makes them at this revision (it may change
# later; these must not).
STAMP_KIND = 'account-identity'
BEFORE = ('id', 'email', 'role', 'is_active', 'password_salt', 'private_key_ct', 'totp_secret_ct', 'signing_key_ct')
AFTER = (*BEFORE, 'name')


def upgrade():
    _stamp_again(BEFORE, AFTER)


def downgrade():
    _stamp_again(AFTER, BEFORE)


def _fields(row, names):
    fields = []
    for name in names:
        value = getattr(row, name)
        if isinstance(value, memoryview):
            value = bytes(value)
        if name == 'email':
            value = value.lower()
        elif name == 'is_active':
            value = bool(value)  # SQLite gives 0 or 1
        fields.append(value)
    return fields


def _stamp_again(held, made):
    from speakup.crypto import sealing
    from speakup.platform.config import settings

    users = sa.table('users', *(sa.column(name) for name in (*AFTER, 'identity_stamp')))
    bind = op.get_bind()
    rows = bind.execute(sa.select(*(users.c[name] for name in (*AFTER, 'identity_stamp')))).all()
    pepper = settings().token_pepper if rows else None
    for row in rows:
        if row.identity_stamp and sealing.stamp_holds(pepper, row.identity_stamp, STAMP_KIND, _fields(row, held)):
            stamp = sealing.row_stamp(pepper, STAMP_KIND, _fields(row, made))
            bind.execute(users.update().where(users.c.id == row.id).values(identity_stamp=stamp))
