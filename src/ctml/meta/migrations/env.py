"""Alembic environment for ctml's metadata store.

ctml runs migrations itself (:func:`ctml.meta._engine.migrate`) on a connection it already holds under a lock,
passed in ``config.attributes["connection"]``. For development, ``alembic -x url=sqlite:///x.db revision
--autogenerate`` works with this file too.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from ctml.meta._schema import METADATA

connection = context.config.attributes.get("connection")
if connection is not None:
    context.configure(connection=connection, target_metadata=METADATA, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    url = context.get_x_argument(as_dictionary=True).get("url", "sqlite:///.ctml/meta.db")
    with create_engine(url).begin() as conn:
        context.configure(connection=conn, target_metadata=METADATA, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
