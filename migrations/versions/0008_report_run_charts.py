"""Report runs keep every chart of their e-mail (each shown inline once, with its text).

Revision ID: 0008
Revises: 0001
Create Date: 2026-11-30
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('report_run', schema=None) as batch_op:
        batch_op.add_column(sa.Column('charts', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('report_run', schema=None) as batch_op:
        batch_op.drop_column('charts')
