"""The sourcedIds a run's records point to, kept in the database rather than in the worker

Revision ID: 0007_run_references
Revises: 0006_connection_test_summary
Create Date: 2026-12-07 08:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0007_run_references'
down_revision = '0006_connection_test_summary'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'run_references',
        sa.Column('run_id', sa.Integer(), nullable=False),
        sa.Column('entity', sa.String(length=32), nullable=False),
        sa.Column('field', sa.String(length=32), nullable=False),
        sa.Column('target', sa.String(length=255), nullable=False),
        sa.ForeignKeyConstraint(['run_id'], ['runs.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('run_id', 'entity', 'field', 'target'),
    )


def downgrade():
    op.drop_table('run_references')
