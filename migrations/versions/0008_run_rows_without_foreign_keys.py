"""A run's records and references without a foreign key each: a trigger deletes them with the run

Checking the foreign key on each row stored was a quarter of PostgreSQL's work storing a run.

Revision ID: 0008_run_rows_without_fks
Revises: 0007_run_references
Create Date: 2026-12-07 15:30:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0008_run_rows_without_fks'
down_revision = '0007_run_references'
branch_labels = None
depends_on = None

TABLES = ('run_records', 'run_references')
# SQLite's foreign keys have no name: this one names them for batch mode to drop.
NAMING = {'fk': 'fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s'}
TRIGGER = {
    'postgresql': (
        "CREATE OR REPLACE FUNCTION sdm_runs_deleted() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        "DELETE FROM run_records WHERE run_id IN (SELECT id FROM gone); "
        "DELETE FROM run_references WHERE run_id IN (SELECT id FROM gone); "
        "RETURN NULL; "
        "END $$",
        "DROP TRIGGER IF EXISTS runs_deleted ON runs",
        "CREATE TRIGGER runs_deleted AFTER DELETE ON runs REFERENCING OLD TABLE AS gone "
        "FOR EACH STATEMENT EXECUTE FUNCTION sdm_runs_deleted()",
    ),
    'sqlite': (
        "CREATE TRIGGER IF NOT EXISTS runs_deleted AFTER DELETE ON runs BEGIN "
        "DELETE FROM run_records WHERE run_id = OLD.id; "
        "DELETE FROM run_references WHERE run_id = OLD.id; "
        "END",
    ),
}
UNTRIGGER = {
    'postgresql': ("DROP TRIGGER IF EXISTS runs_deleted ON runs",
                   "DROP FUNCTION IF EXISTS sdm_runs_deleted()"),
    'sqlite': ("DROP TRIGGER IF EXISTS runs_deleted",),
}


def upgrade():
    bind = op.get_bind()
    for table in TABLES:
        if bind.dialect.name == 'sqlite':
            with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
                batch_op.drop_constraint(f'fk_{table}_run_id_runs', type_='foreignkey')
        else:
            for key in sa.inspect(bind).get_foreign_keys(table):
                op.drop_constraint(key['name'], table, type_='foreignkey')
    for statement in TRIGGER.get(bind.dialect.name, ()):
        op.execute(statement)


def downgrade():
    bind = op.get_bind()
    for statement in UNTRIGGER.get(bind.dialect.name, ()):
        op.execute(statement)
    for table in TABLES:
        op.execute(f"DELETE FROM {table} WHERE run_id NOT IN (SELECT id FROM runs)")
        with op.batch_alter_table(table, naming_convention=NAMING) as batch_op:
            batch_op.create_foreign_key(f'fk_{table}_run_id_runs', 'runs', ['run_id'], ['id'],
                                        ondelete='CASCADE')
