"""pepper_stamp on users, stats_tokens and enrolments: what a rotation of the pepper vouched for

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-07 21:30:00.000000

Outside review: after `speakup rotate-pepper`, whoever held the OLD pepper and could write to the database inserted an
account, a statistics token or an enrolment link made under the old pepper, and the fallback accepted it. The
rotation now stamps every row that may be opened under the old pepper with a keyed hash under the NEW pepper of the
row's identity and what a fallback accepts (docs/protocol.md, "Rotating the pepper"); a row is opened under a
fallback only when its stamp holds. Empty for every row until a rotation (rows under the current pepper need none).
A database upgraded after a rotation done without this column has no stamps: its rows under a fallback stop opening
(an account enrols again, a token or a link is made again), which is the safe side.

The same review's door needed no pepper at all: an account sealed as before the pepper joined the password
(`kdf_peppered` false, migration 0015) was opened with none, so a database writer could insert one. Those now open
only with a stamp under the current pepper: the upgrade stamps the ones that exist, under the pepper configured.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0024'
down_revision = '0023'
branch_labels = None
depends_on = None

TABLES = ('users', 'stats_tokens', 'enrolments')


# An account's stamp, as speakup/keys/account_keys.py made it at this revision (it may change later; this must not).
STAMP_KIND = 'account'
STAMPED = ('id', 'kdf_pepper_id', 'password_salt', 'private_key_ct', 'totp_secret_ct', 'signing_key_ct',
           'kdf_memory_kib', 'kdf_iterations', 'kdf_lanes', 'kdf_peppered')


def upgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column('pepper_stamp', sa.String(length=64), nullable=True))
    _restore_email_index()
    _stamp_accounts_from_before_the_pepper()


def _stamp_accounts_from_before_the_pepper():
    from speakup.crypto import sealing
    from speakup.platform.config import settings

    users = sa.table('users', *(sa.column(name) for name in (*STAMPED, 'pepper_stamp')))
    bind = op.get_bind()
    rows = bind.execute(sa.select(*(users.c[name] for name in STAMPED)).where(users.c.password_salt.is_not(None)))
    pepper = None
    for row in rows.all():
        if row.kdf_peppered:
            continue
        pepper = pepper or settings().token_pepper
        fields = [bytes(value) if isinstance(value, memoryview) else value for value in row]
        fields[STAMPED.index('kdf_peppered')] = False
        stamp = sealing.row_stamp(pepper, STAMP_KIND, fields)
        bind.execute(users.update().where(users.c.id == row.id).values(pepper_stamp=stamp))


def downgrade():
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column('pepper_stamp')
    _restore_email_index()


def _restore_email_index():
    """SQLite's batch mode may rebuild the users table, without the index on lower(email) (0005): made again."""
    if op.get_bind().dialect.name == 'sqlite':
        op.execute('CREATE UNIQUE INDEX IF NOT EXISTS uq_users_email_lower ON users (lower(email))')
