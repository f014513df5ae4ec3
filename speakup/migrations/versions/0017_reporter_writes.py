"""cases.reporter_writes and case_grants.read_writes: "reply waiting" by count, as times are kept to the minute

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-07 04:30:00.000000

A reporter's times are now stored to the minute (issue 24), too coarse to tell a reply from a guardian's read in
the same minute, so a reply waits while the reporter has written more times than the guardian's grant has seen.
Existing cases count one write if the reporter ever wrote; a grant read at or after it has seen it.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0017'
down_revision = '0016'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reporter_writes', sa.Integer(), server_default='0', nullable=False))
    with op.batch_alter_table('case_grants', schema=None) as batch_op:
        batch_op.add_column(sa.Column('read_writes', sa.Integer(), nullable=True))
    op.execute("UPDATE cases SET reporter_writes = 1 WHERE reporter_wrote_at IS NOT NULL")
    op.execute(
        "UPDATE case_grants SET read_writes = CASE WHEN (SELECT c.reporter_wrote_at FROM cases c "
        "WHERE c.id = case_grants.case_id) IS NULL OR read_at >= (SELECT c.reporter_wrote_at FROM cases c "
        "WHERE c.id = case_grants.case_id) THEN (SELECT c.reporter_writes FROM cases c "
        "WHERE c.id = case_grants.case_id) ELSE 0 END WHERE read_at IS NOT NULL"
    )


def downgrade():
    with op.batch_alter_table('case_grants', schema=None) as batch_op:
        batch_op.drop_column('read_writes')
    with op.batch_alter_table('cases', schema=None) as batch_op:
        batch_op.drop_column('reporter_writes')
