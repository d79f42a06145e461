"""The document prior (``DocumentKeywordIndex``), held in memory, against the catalog it reads:
BM25 over the cards of ready documents, scoped to a collection, and never a search behind the
catalog (a document made ready, deleted or rewritten counts from the next search)."""

from __future__ import annotations

import math

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from ingest.db import make_engine, make_session_factory, run_migrations
from ingest.index import DocumentKeywordIndex, document_card, document_terms
from ingest.models import Collection, Document
from tests.integration.helpers import add_document

CARDS = {
    "apple.pdf": ("2023 Q3 AAPL", "Apple Inc. quarterly report. iPhone, Mac and services revenue."),
    "amazon.pdf": ("2023 Q3 AMZN", "Amazon.com, Inc. quarterly report. Online stores and AWS revenue."),
    "intel.pdf": ("2023 Q3 INTC", "Intel Corporation quarterly report. Client computing revenue."),
}


def _add(session: Session, collection_id: int, filename: str, context: str, opening: str, status: str) -> str:
    doc = add_document(session, collection_id, filename, status=status)
    doc.term_count = DocumentKeywordIndex.write(
        session, doc.id, collection_id, document_terms(document_card(context, opening))
    )
    return doc.id


def _catalog(url: str) -> tuple[sessionmaker[Session], dict[str, int]]:
    run_migrations(url)
    factory = make_session_factory(make_engine(url))
    with factory.begin() as session:
        session.add_all([Collection(name="filings"), Collection(name="other")])
        session.flush()
        ids = {c.name: c.id for c in session.scalars(select(Collection))}
        for filename, (context, opening) in CARDS.items():
            _add(session, ids["filings"], filename, context, opening, "ready")
    return factory, ids


def _bm25(query: str, cards: dict[str, list[str]]) -> dict[str, float]:
    """The prior by its definition (``DocumentKeywordIndex.scores``), over ``cards`` (name → texts)."""
    terms = document_terms([query])
    counted = {name: document_terms(texts) for name, texts in cards.items()}
    average = sum(c.total() for c in counted.values()) / len(counted)
    df = {t: sum(t in c for c in counted.values()) for t in terms}
    idf = {t: math.log(1 + (len(counted) - n + 0.5) / (n + 0.5)) for t, n in df.items() if n}
    ceiling = sum(i * 2.2 for i in idf.values())
    scores = {}
    for name, c in counted.items():
        total = sum(idf[t] * c[t] * 2.2 / (c[t] + 1.2 * (0.25 + 0.75 * c.total() / average)) for t in idf if c[t])
        if total:
            scores[name] = total / ceiling
    return scores


def _by_name(factory: sessionmaker[Session], scores: dict[str, float]) -> dict[str, float]:
    with factory() as session:
        names = dict(session.execute(select(Document.id, Document.filename)).tuples().all())
    return {names[d]: s for d, s in scores.items()}


def test_the_prior_is_bm25_over_the_cards_of_ready_documents(catalog_url: str) -> None:
    factory, ids = _catalog(catalog_url)
    index = DocumentKeywordIndex()
    query = "What was Apple's iPhone revenue in the quarter?"
    with factory() as session:
        got = _by_name(factory, index.scores(session, query, collection_id=ids["filings"]))
    expected = _bm25(query, {name: document_card(*card) for name, card in CARDS.items()})
    assert got.keys() == expected.keys() == set(CARDS)  # "revenue" and "quarter" are on every card
    for name, score in expected.items():
        assert math.isclose(got[name], score, rel_tol=1e-9), name
    assert max(got, key=got.__getitem__) == "apple.pdf"

    with factory() as session:  # a collection without documents has no prior
        assert index.scores(session, query, collection_id=ids["other"]) == {}
        chosen = list(session.scalars(select(Document.id).where(Document.filename == "intel.pdf")))
        scoped = index.scores(session, query, collection_id=ids["filings"], document_ids=chosen)
    assert _by_name(factory, scoped) == {"intel.pdf": got["intel.pdf"]}  # statistics stay the collection's


def test_the_prior_follows_the_catalog_from_the_next_search(catalog_url: str) -> None:
    factory, ids = _catalog(catalog_url)
    index = DocumentKeywordIndex()
    query = "NVIDIA data center GPU revenue"

    def scores() -> dict[str, float]:
        with factory() as session:
            return _by_name(factory, index.scores(session, query, collection_id=ids["filings"]))

    before = scores()
    assert "nvidia.pdf" not in before
    with factory.begin() as session:
        pending = _add(session, ids["filings"], "nvidia.pdf", "2023 Q3 NVDA", "NVIDIA data center GPUs.", "pending")
    assert scores() == before  # not ready: not searched
    with factory.begin() as session:
        session.get(Document, pending).status = "ready"  # type: ignore[union-attr]
    ready = scores()
    assert max(ready, key=ready.__getitem__) == "nvidia.pdf"
    assert ready["apple.pdf"] < before["apple.pdf"]  # more of the query is found: "revenue" is a smaller share
    with factory.begin() as session:
        session.execute(delete(Document).where(Document.id == pending))
    assert scores() == before
