"""Migrations and the catalog (with its keyword index) on SQLite and on the real PostgreSQL."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, select

from ingest.db import MIGRATIONS_DIR, make_engine, run_migrations
from ingest.index import KeywordIndex
from ingest.models import Chunk, Collection, Document
from tests.integration.helpers import add_chunk, add_document, seed_catalog


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


def test_keyword_index_stems_filters_and_follows_deletes(catalog_url: str) -> None:
    factory, log_id = seed_catalog(catalog_url)
    index = KeywordIndex()
    with factory() as session:
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
    with factory.begin() as session:
        session.delete(session.get(Document, log_id))
    with factory() as session:
        assert [h.chunk_id for h in index.search(session, "storm", 10)] != [] and all(
            not h.chunk_id.startswith(log_id) for h in index.search(session, "storm lighthouse ferries", 10)
        )
        assert session.scalar(select(Chunk.id).where(Chunk.document_id == log_id)) is None


def test_keyword_scope_holds_when_other_chunks_outrank_it(catalog_url: str) -> None:
    """SQLite ranks inside FTS5 first and joins only its best rows: a collection or a ready
    document whose matches all rank below other collections' (or unready documents') must still
    be found, and in BM25 order."""
    factory, log_id = seed_catalog(catalog_url)
    with factory.begin() as session:
        other_id, harbour_id = (
            session.scalars(select(Collection.id).where(Collection.name == name)).one() for name in ("other", "harbour")
        )
        for coll, status, n in ((other_id, "ready", 12), (harbour_id, "indexing", 12)):
            doc = add_document(session, coll, f"storms-{status}.pdf", status=status, stored_path="/x/storms.pdf")
            for i in range(n):
                add_chunk(session, doc, i, "Storms, storms and storms.")
    index = KeywordIndex()
    with factory() as session:
        everywhere = index.search(session, "storm", 3)
        assert len(everywhere) == 3 and not any(h.chunk_id.startswith(log_id) for h in everywhere)
        scores = [h.score for h in index.search(session, "storm", 40)]
        assert len(scores) == 14 and scores == sorted(scores, reverse=True)  # 12 + log + menu; none unready
        scoped = index.search(session, "storm", 1, collection_id=harbour_id)
        assert [h.chunk_id for h in scoped] == [f"{log_id}-0"]


def test_keyword_index_sees_chunks_added_after_a_search(catalog_url: str) -> None:
    """The per-process term counts (SQLite) start over when a chunk is added: a term absent at the
    first search is found once a chunk holding it lands."""
    factory, log_id = seed_catalog(catalog_url)
    index = KeywordIndex()
    with factory() as session:
        assert index.search(session, "lighthouse cormorants", 10)[0].chunk_id == f"{log_id}-0"
    with factory.begin() as session:
        add_chunk(session, session.get(Document, log_id), 2, "Cormorants nested on the lighthouse gallery.", page=3)
    with factory() as session:
        assert index.search(session, "lighthouse cormorants", 10)[0].chunk_id == f"{log_id}-2"
