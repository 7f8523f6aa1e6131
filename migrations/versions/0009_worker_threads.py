"""A worker's heartbeat says what each of its threads runs

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 22:40:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('heartbeats') as batch_op:
        batch_op.add_column(sa.Column('running', sa.JSON(), nullable=True))


def downgrade():
    with op.batch_alter_table('heartbeats') as batch_op:
        batch_op.drop_column('running')
