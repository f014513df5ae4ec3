"""characteristics_answered replaces cases.characteristics_given: which cases answered, unlinkable without the pepper

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-07 12:00:00.000000

A plain flag on the case told a copy of the database which cases gave the answers counted in characteristic_counts
(with one flagged case in a quarter, that case's answers exactly; two successive copies linked them always). Each
case that answered is now one row of characteristics_answered, named by a keyed hash of its id under the server's
pepper (SPEAKUP_TOKEN_PEPPER): the server finds a case's row, a copy of the database alone cannot tell whose a row is.

The flags are moved over here, so the migration needs the app's settings, the pepper included: it runs under
`flask db upgrade` and `speakup init` (both build the app), not offline (`--sql`). The markers are inserted in a
random order, so the table's physical order says nothing of the cases' order. The hash below is
speakup.crypto.sealing.keyed_hash with the purpose of speakup.domain.characteristics.MARKER_PURPOSE, written out so
this revision does not change if the code does.
"""
import hashlib
import hmac
import secrets

from alembic import context, op
from flask import current_app
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

MARKER_PURPOSE = 'characteristics-answered'


def _marker(pepper, case_id):
    return hmac.new(pepper, f'{MARKER_PURPOSE}|{case_id}'.encode(), hashlib.sha256).hexdigest()


def _pepper():
    if context.is_offline_mode():
        raise RuntimeError(
            "0018 moves each case's flag to a marker keyed with SPEAKUP_TOKEN_PEPPER: run it online (flask db "
            "upgrade, or speakup init), not with --sql"
        )
    return current_app.config['TOKEN_PEPPER_BYTES']


def upgrade():
    pepper = _pepper()
    answered = op.create_table(
        'characteristics_answered',
        sa.Column('lookup', sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint('lookup'),
    )
    ids = [row[0] for row in op.get_bind().execute(sa.text('SELECT id FROM cases WHERE characteristics_given'))]
    secrets.SystemRandom().shuffle(ids)
    if ids:
        op.bulk_insert(answered, [{'lookup': _marker(pepper, case_id)} for case_id in ids])
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('characteristics_given')


def downgrade():
    pepper = _pepper()
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('characteristics_given', sa.Boolean(), nullable=False, server_default=sa.false()))
    bind = op.get_bind()
    markers = {row[0] for row in bind.execute(sa.text('SELECT lookup FROM characteristics_answered'))}
    ids = [row[0] for row in bind.execute(sa.text('SELECT id FROM cases'))]
    flagged = [{'id': case_id} for case_id in ids if _marker(pepper, case_id) in markers]
    if flagged:
        bind.execute(sa.text('UPDATE cases SET characteristics_given = true WHERE id = :id'), flagged)
    op.drop_table('characteristics_answered')
