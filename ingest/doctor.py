"""``docent doctor``: check that the catalog, the vector index and the keyword index agree, and
make them agree (``repair``).

Checks, per collection:
- vectors without a chunk row of a ready document (orphans: an interrupted ingest or delete);
- chunk rows of ready documents without a vector (lost vectors: the document is re-queued);
- ready documents whose chunk rows number other than their ``chunk_count`` (re-queued);
- ready documents missing from the document-level keyword index (ingested before it existed;
  rebuilt on repair from the document text their chunk rows cover, no re-embedding);
- the keyword index against the chunk rows (SQLite FTS5 ``integrity-check``; rebuilt on repair);
- documents stuck in ``pending`` with no unfinished job (re-queued on repair);
- ready documents whose stored original is missing (reported only).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import func, select, text
from sqlalchemy.exc import DatabaseError
from sqlalchemy.orm import Session, sessionmaker

from ingest.index import DocumentKeywordIndex, VectorIndex, document_card, document_terms
from ingest.models import Chunk, Document, DocumentStatus, IngestJob, JobStatus

__all__ = ["DoctorReport", "diagnose"]

logger = logging.getLogger(__name__)


@dataclass
class DoctorReport:
    """What disagrees. Empty lists and ``keyword_index_ok`` mean the stores agree."""

    orphan_vectors: dict[int, list[str]] = field(default_factory=dict)
    documents_missing_vectors: list[str] = field(default_factory=list)
    incomplete_documents: list[str] = field(default_factory=list)
    documents_missing_terms: list[str] = field(default_factory=list)
    keyword_index_ok: bool = True
    stuck_documents: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not (
            any(self.orphan_vectors.values())
            or self.documents_missing_vectors
            or self.incomplete_documents
            or self.documents_missing_terms
            or not self.keyword_index_ok
            or self.stuck_documents
        )


def _keyword_index_ok(session: Session) -> bool:
    if session.get_bind().dialect.name != "sqlite":
        return True  # PostgreSQL's tsvector is a generated column: it cannot drift
    try:
        session.execute(text("INSERT INTO chunks_fts(chunks_fts, rank) VALUES ('integrity-check', 1)"))
    except DatabaseError:
        return False
    return True


def _rebuild_terms(session: Session, doc: Document) -> None:
    """Document-level terms from the text the chunk rows cover (overlaps counted once) and the
    document context: the same card the pipeline writes, give or take whitespace between chunks.
    The document context is the shortest chunk context once its section is taken off: a PDF
    page's first chunk carries no page heading (``page_headings``)."""
    covered: list[str] = []
    end = 0
    contexts: list[str] = []
    for chunk in session.scalars(select(Chunk).where(Chunk.document_id == doc.id).order_by(Chunk.char_start)):
        if chunk.char_end > end:
            covered.append(chunk.text[max(0, end - chunk.char_start) :])
            end = chunk.char_end
        suffix = f" · {chunk.section}" if chunk.section else ""
        contexts.append(chunk.context.removesuffix(suffix))
    context = min(contexts, key=len, default="")
    terms = document_terms(document_card(context, "".join(covered)))
    doc.term_count = DocumentKeywordIndex.write(session, doc.id, doc.collection_id, terms)


def diagnose(
    session_factory: sessionmaker[Session], vector_index: VectorIndex, *, repair: bool = False
) -> DoctorReport:
    """Compare the stores; with ``repair``, delete orphan vectors, rebuild the keyword index, and
    re-queue documents whose vectors are missing or that are stuck (returns their new job ids in
    ``repaired`` as ``requeued:<job id>``; run them with the pipeline)."""
    report = DoctorReport()
    unfinished = [s.value for s in JobStatus if not s.terminal]
    with session_factory() as session:
        ready: dict[int, dict[str, str]] = {}
        for chunk_id, document_id, collection_id in session.execute(
            select(Chunk.chunk_id, Chunk.document_id, Chunk.collection_id)
            .join(Document, Document.id == Chunk.document_id)
            .where(Document.status == DocumentStatus.ready.value)
        ):
            ready.setdefault(collection_id, {})[chunk_id] = document_id
        lost: set[str] = set()
        indexed = set(vector_index.collection_ids())
        for collection_id in sorted(set(ready) | indexed):
            stored = vector_index.ids(collection_id) if collection_id in indexed else set()
            expected = ready.get(collection_id, {})
            orphans = sorted(stored - expected.keys())
            if orphans:
                report.orphan_vectors[collection_id] = orphans
            lost.update(expected[c] for c in expected.keys() - stored)
        report.documents_missing_vectors = sorted(lost)
        rows = dict(session.execute(select(Chunk.document_id, func.count()).group_by(Chunk.document_id)).tuples().all())
        report.incomplete_documents = sorted(
            doc_id
            for doc_id, expected_rows in session.execute(
                select(Document.id, Document.chunk_count).where(Document.status == DocumentStatus.ready.value)
            )
            if rows.get(doc_id, 0) != expected_rows and doc_id not in lost
        )
        flagged = lost | set(report.incomplete_documents)
        report.documents_missing_terms = sorted(
            d
            for d in session.scalars(
                select(Document.id).where(Document.status == DocumentStatus.ready.value, Document.term_count == 0)
            )
            if d not in flagged
        )
        report.keyword_index_ok = _keyword_index_ok(session)
        active = set(session.scalars(select(IngestJob.document_id).where(IngestJob.status.in_(unfinished))))
        report.stuck_documents = sorted(
            d
            for d in session.scalars(select(Document.id).where(Document.status == DocumentStatus.pending.value))
            if d not in active
        )
        report.missing_files = sorted(
            doc.filename
            for doc in session.scalars(select(Document).where(Document.status == DocumentStatus.ready.value))
            if not Path(doc.stored_path).exists()
        )
    if not repair:
        return report
    for collection_id, orphans in report.orphan_vectors.items():
        vector_index.delete_ids(collection_id, orphans)
        report.repaired.append(f"deleted {len(orphans)} orphan vectors in collection {collection_id}")
    with session_factory.begin() as session:
        if not report.keyword_index_ok:
            session.execute(text("INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')"))
            report.repaired.append("rebuilt the keyword index")
        for document_id in report.documents_missing_terms:
            _rebuild_terms(session, session.get_one(Document, document_id))
        if report.documents_missing_terms:
            report.repaired.append(f"indexed the terms of {len(report.documents_missing_terms)} documents")
        for document_id in [*report.documents_missing_vectors, *report.incomplete_documents, *report.stuck_documents]:
            doc = session.get_one(Document, document_id)
            doc.status = DocumentStatus.pending.value
            job = IngestJob(document_id=doc.id, collection_id=doc.collection_id, filename=doc.filename)
            session.add(job)
            session.flush()
            report.repaired.append(f"requeued:{job.id}")
    logger.info("doctor repaired: %s", report.repaired)
    return report
