"""users.identity_stamp: who an account is, vouched for by the service

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-07 23:40:00.000000

Outside review r4 (F2, F3): a database writer swapped `users.id` between rows, copied one account's sealed credentials
onto another's row, or set `role='admin'` / `is_active=true`, and one person became another (the administrator).
Accounts' keys are now sealed bound to the account's id, role and address, and each row carries a keyed stamp under
the pepper of its id, address (lower case), role, active flag and sealed credentials (speakup/keys/account_identity.py),
checked at every sign-in and request. The upgrade stamps every existing row as it is, under the pepper configured:
their keys, sealed before the binding, open while that stamp holds, and are sealed again bound at the owner's next
sign-in. Downgrading drops the column; an account sealed bound in between then opens nowhere (reset it).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0025'
down_revision = '0024'
branch_labels = None
depends_on = None

# The stamp, as speakup/keys/account_identity.py makes it at this revision (it may change later; this must not).
STAMP_KIND = 'account-identity'
STAMPED = ('id', 'email', 'role', 'is_active', 'password_salt', 'private_key_ct', 'totp_secret_ct', 'signing_key_ct')


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('identity_stamp', sa.String(length=64), nullable=True))
    _restore_email_index()
    _stamp_every_account()


def _stamp_every_account():
    from speakup.crypto import sealing
    from speakup.platform.config import settings

    users = sa.table('users', *(sa.column(name) for name in (*STAMPED, 'identity_stamp')))
    bind = op.get_bind()
    rows = bind.execute(sa.select(*(users.c[name] for name in STAMPED))).all()
    pepper = settings().token_pepper if rows else None
    for row in rows:
        fields = [bytes(value) if isinstance(value, memoryview) else value for value in row]
        fields[STAMPED.index('email')] = row.email.lower()
        fields[STAMPED.index('is_active')] = bool(row.is_active)  # SQLite gives 0 or 1
        stamp = sealing.row_stamp(pepper, STAMP_KIND, fields)
        bind.execute(users.update().where(users.c.id == row.id).values(identity_stamp=stamp))


def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('identity_stamp')
    _restore_email_index()


def _restore_email_index():
    """SQLite's batch mode may rebuild the users table, without the index on lower(email) (0005): made again."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('CREATE UNIQUE INDEX IF NOT EXISTS uq_users_email_lower ON users (lower(email))')
