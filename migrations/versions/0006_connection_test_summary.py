"""A connection keeps its last test's verdict in brief; the checklist stays on the job

Revision ID: 0006_connection_test_summary
Revises: 0005_session_generation
Create Date: 2026-12-07 08:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0006_connection_test_summary'
down_revision = '0005_session_generation'
branch_labels = None
depends_on = None

connections = sa.table('connections', sa.column('id', sa.Integer()),
                       sa.column('last_test', sa.JSON()), sa.column('test_summary', sa.JSON()))


def _summary(last_test):
    """Return the brief verdict of a stored checklist (the shape 0001 to 0005 wrote)."""
    last_test = last_test or {}
    error = last_test.get('error') or {}
    return {'title': error.get('title') or ('Passed' if last_test.get('state') == 'success'
                                            else ''),
            'step': error.get('step'), 'elapsed_ms': last_test.get('elapsed_ms'),
            'run': (last_test.get('learned') or {}).get('run'),
            'cancelled': last_test.get('cancelled'),
            'before_saving': bool(last_test.get('before_saving'))}


def upgrade():
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('test_summary', sa.JSON(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(connections.c.id, connections.c.last_test)
                        .where(connections.c.last_test.is_not(None))).all()
    for row in rows:
        bind.execute(connections.update().where(connections.c.id == row.id)
                     .values(test_summary=_summary(row.last_test)))
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_column('last_test')


def downgrade():
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column('last_test', sa.JSON(), nullable=True))
    bind = op.get_bind()
    rows = bind.execute(sa.select(connections.c.id, connections.c.test_summary)
                        .where(connections.c.test_summary.is_not(None))).all()
    for row in rows:
        summary = row.test_summary or {}
        failed = summary.get('title') not in (None, '', 'Passed')
        bind.execute(connections.update().where(connections.c.id == row.id).values(last_test={
            'state': 'error' if failed else 'success', 'steps': [],
            'learned': {'run': summary['run']} if summary.get('run') else {},
            'error': {'title': summary['title'], 'step': summary.get('step')} if failed else None,
            'elapsed_ms': summary.get('elapsed_ms'), 'cancelled': summary.get('cancelled')}))
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_column('test_summary')
