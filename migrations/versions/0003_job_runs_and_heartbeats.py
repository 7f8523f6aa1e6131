"""Job runs, heartbeats, and what scheduled jobs remember

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 21:29:45.673758

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('heartbeats',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_heartbeats')),
    sa.UniqueConstraint('kind', 'name', name='uq_heartbeats_kind_name')
    )
    op.create_table('job_runs',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('job', sa.String(length=100), nullable=False),
    sa.Column('slot_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('trigger', sa.String(length=16), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempt', sa.Integer(), nullable=False),
    sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('duration_ms', sa.Integer(), nullable=True),
    sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('worker', sa.String(length=200), nullable=True),
    sa.Column('result', sa.JSON(), nullable=True),
    sa.Column('error', sa.Text(), nullable=True),
    sa.Column('traceback', sa.Text(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_job_runs')),
    sa.UniqueConstraint('job', 'slot_at', name='uq_job_runs_job_slot_at')
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.create_index('ix_job_runs_job_created_at', ['job', 'created_at'], unique=False)
        batch_op.create_index('ix_job_runs_status_updated_at', ['status', 'updated_at'], unique=False)

    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expiry_notice_for', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_cards_expiring_soon'), ['expiring_soon'], unique=False)

    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('inactivity_reminded_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('deletion_warned_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('last_digest_at', sa.DateTime(timezone=True), nullable=True))



def downgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('last_digest_at')
        batch_op.drop_column('deletion_warned_at')
        batch_op.drop_column('inactivity_reminded_at')

    with op.batch_alter_table('cards', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_cards_expiring_soon'))
        batch_op.drop_column('expiry_notice_for')

    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_index('ix_job_runs_status_updated_at')
        batch_op.drop_index('ix_job_runs_job_created_at')

    op.drop_table('job_runs')
    op.drop_table('heartbeats')
