"""email unique regardless of case

One account per email address whatever its case, enforced by the schema (a unique index on lower(email)), not
only by the application's lookup. Refuses to run, naming the addresses, if a database already holds two.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 15:40:00

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade():
    clashes = op.get_bind().execute(
        sa.text("SELECT lower(email) FROM users GROUP BY lower(email) HAVING count(*) > 1")
    ).scalars().all()
    if clashes:
        raise RuntimeError(
            "These email addresses belong to more than one account (differing only in case): "
            + ", ".join(clashes) + ". Disable and rename all but one of each, then run the migration again."
        )
    op.create_index('uq_users_email_lower', 'users', [sa.text('lower(email)')], unique=True)


def downgrade():
    op.drop_index('uq_users_email_lower', table_name='users')
