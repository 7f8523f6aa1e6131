"""Account security: session version, email verification and email version on users; the
account an outbound email was sent for

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 19:30:00

session_version is part of every session id and remember cookie: raising it ends them all
(logout, password change, email change, disable). email_version changes with each confirmed email
change, so a link issued for an earlier address cannot be replayed after A -> B -> A.
Existing accounts start unverified: nothing proved they own their address. An account's export
lists the emails linked to it by id (outbound_emails.user_id), never those that merely went to its
address; older rows have no link, so they are left out.
"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('email_version', sa.Integer(), nullable=False, server_default='0'))
        batch_op.add_column(sa.Column('email_verified_at', sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table('outbound_emails', schema=None) as batch_op:
        batch_op.add_column(sa.Column('user_id', sa.Integer(), nullable=True))
        batch_op.create_index('ix_outbound_emails_user_id', ['user_id'], unique=False)
        batch_op.create_foreign_key('fk_outbound_emails_user_id_users', 'users', ['user_id'], ['id'], ondelete='SET NULL')


def downgrade():
    with op.batch_alter_table('outbound_emails', schema=None) as batch_op:
        batch_op.drop_constraint('fk_outbound_emails_user_id_users', type_='foreignkey')
        batch_op.drop_index('ix_outbound_emails_user_id')
        batch_op.drop_column('user_id')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('email_verified_at')
        batch_op.drop_column('email_version')
        batch_op.drop_column('session_version')
