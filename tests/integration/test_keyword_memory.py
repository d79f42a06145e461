"""The in-memory BM25 replica (``ingest.bm25``) against the catalog it follows: it ranks as SQLite
FTS5's ``bm25()`` on real filings, serves from the catalog's full-text index while a large
backlog loads, and catches up with deletions and rows committed out of id order."""

from __future__ import annotations

import csv
import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

import ingest.bm25 as bm25
from api.retrieval import Retriever
from ingest.chunking import chunk_pages, document_context
from ingest.db import make_engine, make_session_factory, run_migrations
from ingest.index import KeywordIndex, query_terms
from ingest.loaders import parse_file
from ingest.models import Chunk, Collection, Document
from tests.conftest import shared_data
from tests.integration.helpers import add_chunk, add_document, seed_catalog

SEC_FILINGS = ["2022 Q3 AAPL.pdf", "2022 Q3 AMZN.pdf", "2022 Q3 INTC.pdf", "2023 Q1 MSFT.pdf"]


def _store(factory: sessionmaker[Session], path: Path, collection_id: int) -> None:
    """Parse and chunk ``path`` as ingestion does and write its chunk rows (no vectors needed)."""
    parsed = parse_file(path, "application/pdf")
    context = document_context(path.name, parsed.title)
    with factory.begin() as session:
        doc = add_document(session, collection_id, path.name, stored_path=str(path))
        for c in chunk_pages(parsed.pages):
            add_chunk(
                session,
                doc,
                c.ordinal,
                c.text,
                page=c.page_start,
                context=context,
                page_end=c.page_end,
                char_start=c.char_start,
                char_end=c.char_end,
            )


def test_in_memory_bm25_ranks_as_fts5_on_real_filings(tmp_path: Path) -> None:
    docs = shared_data("qa", "docugami_sec10q", "docs")
    questions_file = shared_data("qa", "docugami_sec10q", "qna_data.dev.csv")
    url = f"sqlite:///{tmp_path / 'catalog.db'}"
    run_migrations(url)
    engine = make_engine(url)
    factory = make_session_factory(engine)
    with factory.begin() as session:
        session.add(Collection(name="sec"))
    with factory() as session:
        collection_id = session.scalars(select(Collection.id)).one()
    for name in SEC_FILINGS:
        _store(factory, docs / name, collection_id)
    with factory() as session:
        chunks = session.scalar(text("SELECT count(*) FROM chunks"))
    assert chunks > 1000
    questions = [row["Question"] for row in csv.DictReader(questions_file.open(encoding="utf-8"))]
    index = KeywordIndex()
    index.warm(engine)
    compared = 0
    with factory() as session:
        for question in questions:
            memory = index.search(session, question, 20)
            catalog = index._search_catalog(session, query_terms(question), 20)
            assert len(memory) == len(catalog), question
            # Same scores, rank by rank (tied chunks may come in either order).
            assert [h.score for h in memory] == pytest.approx([h.score for h in catalog], rel=1e-5), question
            cutoff = catalog[-1].score + 1e-4 if catalog else 0.0  # above the last place's score
            assert {h.chunk_id for h in memory if h.score > cutoff} == {
                h.chunk_id for h in catalog if h.score > cutoff
            }, question
            compared += bool(memory)
    assert compared >= 0.9 * len(questions)
    engine.dispose()


def test_a_large_backlog_loads_in_the_background_while_the_catalog_answers(
    catalog_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bm25, "INLINE_SYNC_CHUNKS", 1)  # the seed's 3 rows are a large backlog
    release = threading.Event()
    warm = bm25.ChunkBM25.warm

    def held_warm(self: bm25.ChunkBM25, engine: Any) -> None:
        release.wait(timeout=30)  # the load cannot finish before the catalog has answered
        warm(self, engine)

    monkeypatch.setattr(bm25.ChunkBM25, "warm", held_warm)
    factory, log_id = seed_catalog(catalog_url)
    index = KeywordIndex()
    with factory() as session:
        replica = index.replica(session.get_bind().engine)
        first = index.search(session, "storm recording", 10)
        assert not replica.ready and replica._loading is not None  # answered by the catalog
        assert [h.chunk_id for h in first] == [f"{log_id}-0", f"{_menu_id(session)}-0"]
        release.set()
        replica._loading.join(timeout=30)
        assert replica.ready and replica.rows == 3
        assert [h.chunk_id for h in index.search(session, "storm recording", 10)] == [h.chunk_id for h in first]


def _menu_id(session: Session) -> str:
    """menu.pdf's document id."""
    return session.scalars(select(Document.id).where(Document.filename == "menu.pdf")).one()


def _diffed(replica: bm25.ChunkBM25) -> None:
    """Wait for the replica's background diff of the id sets, if one runs."""
    thread = replica._diffing
    if thread is not None:
        thread.join(timeout=30)
    assert replica._diffing is None


def _add_late_chunk(session: Session, words: str) -> str:
    """A chunk row below the lowest id, as a slower concurrent transaction commits it on PostgreSQL;
    returns its chunk id."""
    lowest = session.scalar(text("SELECT min(id) FROM chunks"))
    menu = session.scalars(select(Chunk).where(Chunk.id == lowest)).one()
    chunk_id = f"{menu.document_id}-late"
    add_chunk(session, menu.document, 9, words, page=2, id=lowest - 1, chunk_id=chunk_id)
    return chunk_id


def test_the_replica_notices_deletions_and_rows_committed_out_of_order(
    catalog_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bm25, "RECONCILE_S", 0.0)
    factory, log_id = seed_catalog(catalog_url)
    index = KeywordIndex()
    with factory() as session:
        engine = session.get_bind().engine
        assert len(index.search(session, "storm", 10)) == 2
    replica = index.replica(engine)
    assert replica.rows == 3
    with factory.begin() as session:
        session.delete(session.get(Document, log_id))  # its two chunks go with it
    with factory() as session:  # the catalog drops the deleted chunks before the diff is done
        unplaced = {chunk_id for chunk_id, _ in index.rank(session, "storm", 10)}
        assert [h.chunk_id for h in index.search(session, "storm", 10)] == [f"{_menu_id(session)}-0"]
    assert f"{log_id}-0" in unplaced  # ranked from memory, which has not noticed yet
    _diffed(replica)
    assert replica.rows == 1
    with factory() as session:
        assert [chunk_id for chunk_id, _ in index.rank(session, "storm", 10)] == [f"{_menu_id(session)}-0"]
    with factory.begin() as session:
        late = _add_late_chunk(session, "Albatross sightings were logged late.")
    with factory() as session:
        index.search(session, "albatross", 10)  # the count differs: a diff starts
        _diffed(replica)
        assert [h.chunk_id for h in index.search(session, "albatross", 10)] == [late]
    assert replica.rows == 2


def test_a_full_comparison_runs_beside_searches_and_catches_a_deletion_hidden_by_a_late_row(
    catalog_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A deletion and a late commit in one interval leave the count equal; the periodic comparison
    of the id sets finds both, and searches do not wait for it (it reads every id: 55-100 ms at 105k
    chunks)."""
    monkeypatch.setattr(bm25, "RECONCILE_S", 0.0)
    monkeypatch.setattr(bm25, "FULL_RECONCILE_S", 0.0)
    release = threading.Event()
    diff = bm25.ChunkBM25._diff_in_background

    def held_diff(self: bm25.ChunkBM25, engine: Any, known: int) -> None:
        release.wait(timeout=30)
        diff(self, engine, known)

    monkeypatch.setattr(bm25.ChunkBM25, "_diff_in_background", held_diff)
    factory, log_id = seed_catalog(catalog_url)
    index = KeywordIndex()
    with factory() as session:
        assert len(index.search(session, "storm", 10)) == 2
        replica = index.replica(session.get_bind().engine)
    with factory.begin() as session:
        ferries = session.scalars(select(Chunk).where(Chunk.document_id == log_id, Chunk.ordinal == 1)).one()
        session.delete(ferries)
        late = _add_late_chunk(session, "Albatross sightings were logged late.")
    with factory() as session:
        assert index.search(session, "albatross", 10) == []  # answered while the diff is held
        assert replica._diffing is not None and replica.rows == 3
        release.set()
        _diffed(replica)
        assert [h.chunk_id for h in index.search(session, "albatross", 10)] == [late]
    _diffed(replica)  # the search above started another (FULL_RECONCILE_S is 0)
    assert replica.rows == 3  # one dead, one added
    state = replica._state
    assert state is not None and int(state.alive.sum()) == 3 and state.rowid.size == 4


def test_keyword_retrieval_ranks_deeper_past_chunks_that_do_not_place(catalog_url: str) -> None:
    """Keyword candidates are placed after ranking: when the best 200 all belong to a document that
    is not ready (requeued by ``docent doctor --repair`` with its chunk rows still there), retrieval
    ranks deeper and still returns the ready matches."""
    factory, log_id = seed_catalog(catalog_url)
    with factory.begin() as session:
        harbour = session.get_one(Document, log_id).collection_id
        pending = add_document(session, harbour, "requeued.pdf", status="pending")
        for ordinal in range(210):
            add_chunk(session, pending, ordinal, "Storm storm storm warnings.", page=ordinal + 1)
    retriever = Retriever(
        session_factory=factory,
        embedder=None,  # type: ignore[arg-type]  # keyword mode embeds nothing
        vector_index=None,  # type: ignore[arg-type]
        keyword_index=KeywordIndex(),
    )
    with factory() as session:
        menu = _menu_id(session)
    found = retriever.retrieve("storm", k=2, mode="keyword").results
    assert {r.chunk_id for r in found} == {f"{log_id}-0", f"{menu}-0"}


def test_the_catalog_index_scores_each_stem_once_and_counts_words_fts5_leaves_whole(tmp_path: Path) -> None:
    """While the replica loads, SQLite's full-text index ranks with the rarest query terms: there
    as in memory, "storms" and "storm" are one term, and a word FTS5 does not stem ("s" of
    "keeper's", under 3 letters) or folds ("café") is counted as the index holds it."""
    factory, log_id = seed_catalog(f"sqlite:///{tmp_path / 'catalog.db'}")
    with factory.begin() as session:
        add_chunk(session, session.get_one(Document, log_id), 2, "The keeper's log, kept at the café.", page=3)
    with factory() as session:
        assert KeywordIndex()._rarest(session, ["storms", "storm", "s", "nightly"]) == ["s", "storms", "nightly"]
        assert KeywordIndex()._rarest(session, ["café", "ferries"]) == ["café", "ferries"]
