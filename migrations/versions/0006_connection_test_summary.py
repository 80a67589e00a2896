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


def _last_test(summary):
    """Return a checklist-shaped last_test for a brief verdict (for a downgrade)."""
    summary = summary or {}
    failed = summary.get('title') not in (None, '', 'Passed')
    return {'state': 'error' if failed else 'success', 'steps': [],
            'learned': {'run': summary['run']} if summary.get('run') else {},
            'error': {'title': summary['title'], 'step': summary.get('step')} if failed else None,
            'elapsed_ms': summary.get('elapsed_ms'), 'cancelled': summary.get('cancelled')}


def _move(old, new, convert):
    """Add column `new`, fill it from `old` through `convert`, and drop `old`."""
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.add_column(sa.Column(new, sa.JSON(), nullable=True))
    bind = op.get_bind()
    source, target = connections.c[old], connections.c[new]
    rows = bind.execute(sa.select(connections.c.id, source).where(source.is_not(None))).all()
    for row_id, value in rows:
        bind.execute(connections.update().where(connections.c.id == row_id)
                     .values({target: convert(value)}))
    with op.batch_alter_table('connections', schema=None) as batch_op:
        batch_op.drop_column(old)


def upgrade():
    _move('last_test', 'test_summary', _summary)


def downgrade():
    _move('test_summary', 'last_test', _last_test)
