"""Operations console: the audit log (append-only), job pause state, who triggered a run, a
run's arguments and the account it was about

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 20:00:00

audit_log refuses UPDATE and DELETE in the database itself (a trigger on both dialects), so no
code path, route or not, can rewrite what an admin did. It references its actor by id without a
foreign key: deleting a user must not have to rewrite the log (the email is kept beside the id).
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None

PG_GUARD = """
CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
"""
SQLITE_GUARDS = [
    """CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
    """CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
       BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END""",
]


def upgrade():
    op.create_table(
        'audit_log',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
        sa.Column('actor_id', sa.Integer(), nullable=True),
        sa.Column('actor_email', sa.String(length=254), nullable=True),
        sa.Column('ip_address', sa.String(length=45), nullable=True),
        sa.Column('action', sa.String(length=64), nullable=False),
        sa.Column('target_type', sa.String(length=32), nullable=False),
        sa.Column('target_id', sa.String(length=100), nullable=True),
        sa.Column('arguments', sa.JSON(), nullable=False),
        sa.Column('outcome', sa.String(length=16), nullable=False),
        sa.Column('message', sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_log')),
    )
    op.create_index('ix_audit_log_created_at', 'audit_log', ['created_at'])
    op.create_index('ix_audit_log_actor_id', 'audit_log', ['actor_id'])
    op.create_index('ix_audit_log_target', 'audit_log', ['target_type', 'target_id'])
    if op.get_bind().dialect.name == 'postgresql':
        op.execute(PG_GUARD)
    else:
        for guard in SQLITE_GUARDS:
            op.execute(guard)

    op.create_table(
        'job_controls',
        sa.Column('job', sa.String(length=100), nullable=False),
        sa.Column('paused', sa.Boolean(), nullable=False),
        sa.Column('paused_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('paused_by', sa.Integer(), nullable=True),
        sa.Column('resumed_at', sa.DateTime(timezone=True), nullable=True),
        sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint('job', name=op.f('pk_job_controls')),
    )
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('triggered_by', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('arguments', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_job_runs_user_id', ['user_id'], unique=False)
        batch_op.create_foreign_key('fk_job_runs_user_id_users', 'users', ['user_id'], ['id'], ondelete='SET NULL')
    # The console's views on big tables (bench/console.py): the last 24 hours, failed runs by
    # job, one recipient's emails.
    op.create_index('ix_job_runs_finished_at', 'job_runs', ['finished_at'])
    op.create_index('ix_job_runs_status_job_id', 'job_runs', ['status', 'job', 'id'])
    op.create_index('ix_outbound_emails_sent_at', 'outbound_emails', ['sent_at'])
    op.create_index('ix_outbound_emails_to_address', 'outbound_emails', ['to_address'])
    op.create_index('ix_outbound_emails_template_created_at', 'outbound_emails', ['template', 'created_at'])


def downgrade():
    op.drop_index('ix_outbound_emails_template_created_at', table_name='outbound_emails')
    op.drop_index('ix_outbound_emails_to_address', table_name='outbound_emails')
    op.drop_index('ix_outbound_emails_sent_at', table_name='outbound_emails')
    op.drop_index('ix_job_runs_status_job_id', table_name='job_runs')
    op.drop_index('ix_job_runs_finished_at', table_name='job_runs')
    with op.batch_alter_table('job_runs', schema=None) as batch_op:
        batch_op.drop_constraint('fk_job_runs_user_id_users', type_='foreignkey')
        batch_op.drop_index('ix_job_runs_user_id')
        batch_op.drop_column('user_id')
        batch_op.drop_column('arguments')
        batch_op.drop_column('triggered_by')
    op.drop_table('job_controls')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute("DROP TRIGGER IF EXISTS audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION IF EXISTS audit_log_append_only()")
    op.drop_table('audit_log')
