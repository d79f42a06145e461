"""Alembic environment: the URL comes from docent's Settings unless the caller set one."""

from __future__ import annotations

from logging.config import fileConfig

from alembic import context

import api.models  # noqa: F401  (registers the conversation tables on Base.metadata)
from ingest.db import make_engine
from ingest.models import Base
from ingest.settings import Settings

config = context.config
if config.config_file_name is not None and config.attributes.get("configure_logger", True):
    fileConfig(config.config_file_name)

target_metadata = Base.metadata


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave the keyword index (FTS5 shadow tables, the tsvector column) to the hand-written revision."""
    if type_ == "table" and name and name.startswith("chunks_fts"):
        return False
    return not (type_ in ("column", "index") and name in ("tsv", "ix_chunks_tsv"))


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    return url or Settings().sqlalchemy_url


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = make_engine(_url())
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            compare_type=True,
            include_object=include_object,
            render_as_batch=connection.dialect.name == "sqlite",
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
