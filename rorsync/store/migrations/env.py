"""Alembic environment: migrations always run on a connection handed over by ``rorsync.store.migrate``.

``render_as_batch`` makes ALTERs work on SQLite (move-and-copy), so one migration serves both dialects.
"""

from alembic import context

from rorsync.store.schema import metadata

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True, compare_type=True)
with context.begin_transaction():
    context.run_migrations()
