"""The job run an outbound email was sent from, so an account's page lists the runs that
touched it (a periodic job emailing it), not only the runs about it

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 23:50:00
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbound_emails') as batch_op:
        batch_op.add_column(sa.Column('job_run_id', sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            'fk_outbound_emails_job_run_id_job_runs', 'job_runs', ['job_run_id'], ['id'],
            ondelete='SET NULL',
        )
        batch_op.create_index('ix_outbound_emails_job_run_id', ['job_run_id'])


def downgrade():
    with op.batch_alter_table('outbound_emails') as batch_op:
        batch_op.drop_index('ix_outbound_emails_job_run_id')
        batch_op.drop_constraint('fk_outbound_emails_job_run_id_job_runs', type_='foreignkey')
        batch_op.drop_column('job_run_id')
