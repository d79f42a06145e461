"""Migrations and the catalog (with its keyword index) on SQLite and on the real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select, text

from ingest.db import MIGRATIONS_DIR, make_engine, make_session_factory, run_migrations
from ingest.index import KeywordIndex
from ingest.models import Chunk, Collection, Document
from tests.conftest import postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL: a SQLite file, or a throw-away schema on the test PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'catalog.db'}"
        return
    base = postgres_url()
    schema = f"docent_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield f"{base}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def _alembic(url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logger"] = False
    return config


def test_migrations_create_the_schema_and_round_trip(catalog_url: str) -> None:
    run_migrations(catalog_url)
    run_migrations(catalog_url)  # idempotent
    engine = make_engine(catalog_url)
    tables = set(inspect(engine).get_table_names())
    assert {"collections", "documents", "chunks", "ingest_jobs", "conversations", "messages"} <= tables
    command.downgrade(_alembic(catalog_url), "base")
    assert not {"documents", "chunks"} & set(inspect(engine).get_table_names())
    command.upgrade(_alembic(catalog_url), "head")
    assert "chunks" in set(inspect(engine).get_table_names())
    engine.dispose()


def _seed(catalog_url: str) -> tuple[object, str]:
    run_migrations(catalog_url)
    engine = make_engine(catalog_url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        session.add_all([Collection(name="harbour"), Collection(name="other")])
        session.flush()
        harbour, other = session.scalars(select(Collection).order_by(Collection.id)).all()
        docs = []
        for coll, name, texts in (
            (harbour, "log.pdf", ["The lighthouse keepers recorded storms nightly.", "Ferries sailed at dawn."]),
            (other, "menu.pdf", ["Storm soup is served nightly in the canteen."]),
        ):
            doc = Document(
                collection_id=coll.id,
                filename=name,
                sha256=uuid.uuid4().hex,
                content_type="application/pdf",
                size_bytes=1,
                stored_path=f"/x/{name}",
                status="ready",
            )
            session.add(doc)
            session.flush()
            docs.append(doc.id)
            for i, body in enumerate(texts):
                session.add(
                    Chunk(
                        chunk_id=f"{doc.id}-{i}",
                        document_id=doc.id,
                        collection_id=coll.id,
                        ordinal=i,
                        page_start=i + 1,
                        page_end=i + 1,
                        char_start=0,
                        char_end=len(body),
                        text=body,
                    )
                )
    return factory, docs[0]


def test_keyword_index_stems_filters_and_follows_deletes(catalog_url: str) -> None:
    factory, log_id = _seed(catalog_url)
    index = KeywordIndex()
    with factory() as session:  # type: ignore[operator]
        hits = index.search(session, "storm recording", 10)
        ids = [h.chunk_id for h in hits]
        assert ids[0] == f"{log_id}-0"  # "storm" and "record" both match only there (stemmed)
        assert len(ids) == 2
        harbour_id = session.scalars(select(Collection.id).where(Collection.name == "harbour")).one()
        scoped = index.search(session, "storm", 10, collection_id=harbour_id)
        assert [h.chunk_id for h in scoped] == [f"{log_id}-0"]
        only_doc = index.search(session, "nightly", 10, document_ids=[log_id])
        assert [h.chunk_id for h in only_doc] == [f"{log_id}-0"]
        assert index.search(session, "the of and", 10) == []  # stop words only
    with factory.begin() as session:  # type: ignore[attr-defined]
        session.delete(session.get(Document, log_id))
    with factory() as session:  # type: ignore[operator]
        assert [h.chunk_id for h in index.search(session, "storm", 10)] != [] and all(
            not h.chunk_id.startswith(log_id) for h in index.search(session, "storm lighthouse ferries", 10)
        )
        assert session.scalar(select(Chunk.id).where(Chunk.document_id == log_id)) is None
