"""Models and migrations agree: autogenerate finds nothing to add on this backend."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from saas.extensions import db


def test_migrations_match_the_models(app):
    with app.app_context(), db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, db.metadata) == []
        assert context.get_current_revision() is not None
