"""replies waiting

cases.reporter_wrote_at (when the reporter last wrote) and case_grants.read_at (when a guardian last opened the
case) let the queue mark the cases with a reply waiting for each guardian. Filled from the messages and the audit
trail's case_viewed events, so an upgrade does not mark every old reply as new.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 19:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_wrote_at', sa.DateTime(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cases_reporter_wrote_at'), ['reporter_wrote_at'], unique=False)
    with op.batch_alter_table('case_grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_at', sa.DateTime(), nullable=True))
    op.execute(
        "UPDATE cases SET reporter_wrote_at = (SELECT max(m.created_at) FROM messages m "
        "WHERE m.case_id = cases.id AND m.author = 'reporter')"
    )
    op.execute(
        "UPDATE case_grants SET read_at = (SELECT max(a.created_at) FROM audit_events a "
        "WHERE a.action = 'case_viewed' AND a.case_id = case_grants.case_id AND a.actor_id = case_grants.user_id) "
        "WHERE recipient = 'guardian'"
    )


def downgrade():
    with op.batch_alter_table('case_grants', schema=None) as batch_op:
        batch_op.drop_column('read_at')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cases_reporter_wrote_at'))
        batch_op.drop_column('reporter_wrote_at')
