"""Requests and total warnings per collection; the OAuth 1.0a signature method

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-07 02:10:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('run_collections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('requests', sa.Integer(), nullable=False,
                                      server_default='0'))
        batch_op.add_column(sa.Column('warnings', sa.JSON(), nullable=True))
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('signature_method', sa.String(length=16), nullable=False,
                                      server_default='HMAC-SHA256'))


def downgrade():
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_column('signature_method')
    with op.batch_alter_table('run_collections', schema=None) as batch_op:
        batch_op.drop_column('warnings')
        batch_op.drop_column('requests')
