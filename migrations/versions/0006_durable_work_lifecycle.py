"""Durable work: lease and due columns for Stripe events, card syncs and reports

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 01:30:00

Every row-backed kind of work now has the lifecycle's columns: status, attempts, a due time
(enqueued_at) the sweep checks for lost tasks, and a lease the sweep checks for lost workers.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('traceback', sa.Text(), nullable=True))
        batch_op.create_index('ix_stripe_events_status_enqueued_at', ['status', 'enqueued_at'], unique=False)
    op.execute("UPDATE stripe_events SET enqueued_at = received_at")

    with op.batch_alter_table('billing_customers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('card_sync_attempts', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('card_sync_enqueued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('card_sync_lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.alter_column('card_sync_error', existing_type=sa.String(length=500), type_=sa.Text(), existing_nullable=True)
    with op.batch_alter_table('billing_customers', schema=None) as batch_op:
        batch_op.alter_column('card_sync_attempts', server_default=None)
    # "pending" was the one in-flight state; the lifecycle's is "queued" (due now: the sweep sends it).
    op.execute("UPDATE billing_customers SET card_sync_status = 'queued' WHERE card_sync_status = 'pending'")

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('enqueued_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('lease_expires_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index('ix_reports_status_enqueued_at', ['status', 'enqueued_at'], unique=False)
    op.execute("UPDATE reports SET enqueued_at = created_at")


def downgrade():
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_status_enqueued_at')
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('enqueued_at')

    op.execute("UPDATE billing_customers SET card_sync_status = 'pending' WHERE card_sync_status IN ('queued', 'syncing', 'retrying')")
    op.execute("UPDATE billing_customers SET card_sync_status = NULL WHERE card_sync_status = 'synced'")
    with op.batch_alter_table('billing_customers', schema=None) as batch_op:
        batch_op.alter_column('card_sync_error', existing_type=sa.Text(), type_=sa.String(length=500), existing_nullable=True)
        batch_op.drop_column('card_sync_lease_expires_at')
        batch_op.drop_column('card_sync_enqueued_at')
        batch_op.drop_column('card_sync_attempts')

    with op.batch_alter_table('stripe_events', schema=None) as batch_op:
        batch_op.drop_index('ix_stripe_events_status_enqueued_at')
        batch_op.drop_column('traceback')
        batch_op.drop_column('lease_expires_at')
        batch_op.drop_column('enqueued_at')
