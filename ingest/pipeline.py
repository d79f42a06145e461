"""Ingest one file: hash → job → parse (isolated) → chunk → embed → write; idempotent by content hash.

Write order (so a crash anywhere leaves all of a document or none of it where it counts): vectors
are upserted into Chroma under deterministic chunk ids first; then one catalog transaction writes
the chunk rows (the keyword index follows by trigger / generated column) and flips the document to
``ready``. Retrieval only returns chunks whose catalog row exists and whose document is ready, so
vectors of an interrupted run are invisible, and a rerun overwrites them under the same ids.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ingest.chunking import chunk_id_for, chunk_pages, chunk_sections, document_context, document_text
from ingest.embeddings import Embedder
from ingest.index import DocumentKeywordIndex, VectorIndex, document_terms
from ingest.loaders import ParseError, content_type_for, parse_isolated
from ingest.models import Chunk, Collection, Document, DocumentStatus, DocumentTerm, IngestJob, JobStatus, utcnow
from ingest.settings import Settings

__all__ = ["DEFAULT_COLLECTION", "IngestPipeline", "file_sha256"]

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "default"
EMBED_BATCH = 64
#: How many times a document's context (file name, title) counts in its document-level terms: a
#: title field weighted up, as in BM25F (Robertson, Zaragoza & Taylor, CIKM 2004).
CONTEXT_TERM_WEIGHT = 5
PROGRESS_INTERVAL_S = 0.5

JobCallback = Callable[[IngestJob], None]


def file_sha256(path: Path) -> str:
    """Hex sha256 of the file at ``path``, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class _Progress:
    """Throttled job updates: at most one catalog write per ``PROGRESS_INTERVAL_S``."""

    pipeline: IngestPipeline
    job_id: str
    callback: JobCallback | None
    last: float = 0.0

    def __call__(self, *, force: bool = False, **fields: object) -> None:
        now = time.monotonic()
        if not force and now - self.last < PROGRESS_INTERVAL_S:
            return
        self.last = now
        job = self.pipeline.update_job(self.job_id, **fields)
        if self.callback is not None:
            self.callback(job)


class IngestPipeline:
    """Registers files as documents with jobs and runs those jobs. One instance per process.

    Collaborators are passed in; the pipeline holds no global state. Methods are synchronous and
    thread-safe as long as only one thread runs ``run`` at a time (one writer per Chroma directory).
    """

    def __init__(
        self,
        *,
        settings: Settings,
        session_factory: sessionmaker[Session],
        embedder: Embedder,
        vector_index: VectorIndex,
    ) -> None:
        self.settings = settings
        self.session_factory = session_factory
        self.embedder = embedder
        self.vector_index = vector_index

    # -- catalog helpers -------------------------------------------------------------------------

    @staticmethod
    def collection(session: Session, name: str, *, create: bool = True) -> Collection | None:
        """The collection called ``name``; created when missing and ``create`` is true."""
        found = session.scalars(select(Collection).where(Collection.name == name)).first()
        if found is None and create:
            found = Collection(name=name)
            session.add(found)
            try:
                with session.begin_nested():
                    session.flush()
            except IntegrityError:
                found = session.scalars(select(Collection).where(Collection.name == name)).one()
        return found

    def update_job(self, job_id: str, **fields: object) -> IngestJob:
        """Set ``fields`` on the job and commit; return the job."""
        with self.session_factory.begin() as session:
            job = session.get_one(IngestJob, job_id)
            for key, value in fields.items():
                setattr(job, key, value)
            job.updated_at = utcnow()
            _ = job.collection  # loaded for callers outside the session
        return job

    # -- registration ----------------------------------------------------------------------------

    def register(
        self,
        source: Path,
        filename: str,
        collection: str = DEFAULT_COLLECTION,
        *,
        sha256: str | None = None,
        move: bool = False,
    ) -> IngestJob:
        """Register ``source`` (stored under ``filename``) for ingestion into ``collection``.

        The file is copied (``move``: moved) into ``uploads/`` under its content hash. Returns a
        ``queued`` job, or a job already ``duplicate`` (with ``document_id`` of the existing
        document) when the same content is in the collection. Raises
        ``ParseError('unsupported_format')`` for an unsupported extension.
        """
        content_type = content_type_for(filename)
        digest = sha256 or file_sha256(source)
        stored = self.settings.uploads_dir / f"{digest}{Path(filename).suffix.lower()}"
        if not stored.exists():
            self.settings.uploads_dir.mkdir(parents=True, exist_ok=True)
            if move:
                source.replace(stored)
            else:
                tmp = stored.with_suffix(stored.suffix + ".part")
                shutil.copyfile(source, tmp)
                tmp.replace(stored)
        try:
            job_id = self._register_row(stored, filename, collection, digest, content_type)
        except IntegrityError:  # a concurrent upload of the same content won the race: report it
            job_id = self._register_row(stored, filename, collection, digest, content_type)
        return self.get_job(job_id)

    def get_job(self, job_id: str) -> IngestJob:
        """The job with its collection loaded (usable after the session closes)."""
        with self.session_factory() as session:
            return session.get_one(IngestJob, job_id)

    def _register_row(self, stored: Path, filename: str, collection: str, digest: str, content_type: str) -> str:
        with self.session_factory.begin() as session:
            coll = self.collection(session, collection)
            assert coll is not None
            doc = session.scalars(
                select(Document).where(Document.collection_id == coll.id, Document.sha256 == digest)
            ).first()
            if doc is not None and doc.status != DocumentStatus.failed:
                job = IngestJob(
                    document_id=doc.id,
                    collection_id=coll.id,
                    filename=filename,
                    status=JobStatus.duplicate.value,
                    pages_total=doc.pages,
                    pages_done=doc.pages or 0,
                    chunks=doc.chunk_count,
                    finished_at=utcnow(),
                )
                session.add(job)
                session.flush()
                logger.info("duplicate filename=%s document_id=%s", filename, doc.id)
                return job.id
            if doc is None:
                doc = Document(
                    collection_id=coll.id,
                    filename=filename,
                    sha256=digest,
                    content_type=content_type,
                    size_bytes=stored.stat().st_size,
                    stored_path=str(stored),
                )
                session.add(doc)
            else:  # a failed document gets another try
                doc.status = DocumentStatus.pending.value
                doc.error = None
                doc.filename = filename
            session.flush()
            job = IngestJob(document_id=doc.id, collection_id=coll.id, filename=filename)
            session.add(job)
            session.flush()
            return job.id

    def unfinished_job_ids(self) -> list[str]:
        """Jobs not in a terminal state (interrupted by a restart), oldest first."""
        terminal = [JobStatus.done.value, JobStatus.failed.value, JobStatus.duplicate.value]
        with self.session_factory() as session:
            return list(
                session.scalars(
                    select(IngestJob.id).where(IngestJob.status.not_in(terminal)).order_by(IngestJob.created_at)
                )
            )

    # -- running ---------------------------------------------------------------------------------

    def run(self, job_id: str, on_progress: JobCallback | None = None) -> IngestJob:
        """Run job ``job_id`` to ``done`` or ``failed``; never raises for a bad file.

        ``on_progress`` receives the job after each (throttled) update.
        """
        with self.session_factory() as session:
            job = session.get_one(IngestJob, job_id)
            if JobStatus(job.status).terminal:
                return job
            found = session.get(Document, job.document_id) if job.document_id else None
        if found is None:  # deleted while queued
            self._fail(job_id, None, "document_deleted", "the document was deleted before it was ingested")
            return self.get_job(job_id)
        doc = found
        progress = _Progress(self, job_id, on_progress)
        progress(force=True, status=JobStatus.parsing.value, started_at=utcnow(), error=None, error_code=None)
        try:
            parsed = parse_isolated(
                Path(doc.stored_path),
                doc.content_type,
                timeout_s=self.settings.parse_timeout_s,
                memory_mb=self.settings.parse_memory_mb,
                progress=lambda done, total: progress(pages_done=done, pages_total=total),
            )
            progress(
                force=True, status=JobStatus.chunking.value, pages_total=len(parsed.pages), pages_done=len(parsed.pages)
            )
            specs = chunk_pages(
                parsed.pages,
                chunk_size=self.settings.chunk_size,
                chunk_overlap=self.settings.chunk_overlap,
                headings=parsed.headings,
            )
            if not specs:
                raise ParseError("no_text_layer", "no text to index (scanned pages or an empty file)")
            progress(force=True, status=JobStatus.embedding.value, chunks=len(specs), chunks_embedded=0)
            _, spans = document_text(parsed.pages)
            sections = chunk_sections(specs, parsed.headings, spans)
            base_context = document_context(doc.filename, parsed.title)
            contexts = [f"{base_context} · {section}" if section else base_context for section in sections]
            vectors: list[list[float]] = []
            for begin in range(0, len(specs), EMBED_BATCH):
                batch = range(begin, min(begin + EMBED_BATCH, len(specs)))
                vectors.extend(self.embedder.embed([f"{contexts[i]}\n{specs[i].text}" for i in batch]))
                progress(chunks_embedded=len(vectors))
            progress(force=True, status=JobStatus.indexing.value, chunks_embedded=len(vectors))
            ids = [chunk_id_for(doc.sha256, doc.collection_id, s.ordinal) for s in specs]
            metas = [{"document_id": doc.id, "collection_id": doc.collection_id, "page": s.page_start} for s in specs]
            self.vector_index.upsert(doc.collection_id, ids, vectors, metas)
            terms = document_terms([*parsed.pages, *[base_context] * CONTEXT_TERM_WEIGHT])
            with self.session_factory.begin() as session:
                session.execute(delete(Chunk).where(Chunk.document_id == doc.id))
                term_count = DocumentKeywordIndex.write(session, doc.id, doc.collection_id, terms)
                session.add_all(
                    Chunk(
                        chunk_id=cid,
                        document_id=doc.id,
                        collection_id=doc.collection_id,
                        ordinal=s.ordinal,
                        page_start=s.page_start,
                        page_end=s.page_end,
                        char_start=s.char_start,
                        char_end=s.char_end,
                        text=s.text,
                        section=section,
                        context=context,
                    )
                    for cid, s, section, context in zip(ids, specs, sections, contexts, strict=True)
                )
                stored_doc = session.get_one(Document, doc.id)
                stored_doc.status = DocumentStatus.ready.value
                stored_doc.pages = len(parsed.pages)
                stored_doc.pages_without_text = parsed.pages_without_text
                stored_doc.page_spans = [list(span) for span in spans]
                stored_doc.chunk_count = len(specs)
                stored_doc.term_count = term_count
                stored_doc.embedder = self.embedder.name
                stored_job = session.get_one(IngestJob, job_id)
                stored_job.status = JobStatus.done.value
                stored_job.finished_at = utcnow()
            logger.info(
                "ingested document_id=%s file=%s pages=%d chunks=%d",
                doc.id,
                doc.filename,
                len(parsed.pages),
                len(specs),
            )
        except ParseError as exc:
            self._fail(job_id, doc.id, exc.code, exc.message)
        except Exception as exc:  # any other failure fails this job with its reason, never the process
            logger.exception("ingest failed job_id=%s file=%s", job_id, doc.filename)
            if not self._is_ready(doc.id):  # never remove the vectors of a document another run completed
                self._discard_vectors(doc.id, doc.collection_id)
            self._fail(job_id, doc.id, "internal_error", f"{type(exc).__name__}: {exc}")
        with self.session_factory() as session:
            final = session.get_one(IngestJob, job_id)
        if on_progress is not None:
            on_progress(final)
        return final

    def _is_ready(self, document_id: str) -> bool:
        with self.session_factory() as session:
            doc = session.get(Document, document_id)
            return doc is not None and doc.status == DocumentStatus.ready

    def _discard_vectors(self, document_id: str, collection_id: int) -> None:
        try:
            self.vector_index.delete_document(document_id, collection_id)
        except Exception:  # best effort: retrieval hides vectors without catalog rows anyway
            logger.exception("could not remove vectors of document_id=%s", document_id)

    def _fail(self, job_id: str, document_id: str | None, code: str, message: str) -> None:
        """Mark the job failed, and its document too unless it is ready or gone (deleted)."""
        with self.session_factory.begin() as session:
            job = session.get_one(IngestJob, job_id)
            job.status = JobStatus.failed.value
            job.error = message
            job.error_code = code
            job.finished_at = utcnow()
            doc = session.get(Document, document_id) if document_id else None
            if doc is not None and doc.status != DocumentStatus.ready:
                doc.status = DocumentStatus.failed.value
                doc.error = message
        logger.warning("ingest failed job_id=%s code=%s: %s", job_id, code, message)

    def delete_document(self, document_id: str) -> bool:
        """Remove the document's catalog rows (keyword entries go with them), its vectors and its
        stored file when no other document uses it. Returns False when there was no such document."""
        with self.session_factory.begin() as session:
            doc = session.get(Document, document_id)
            if doc is None:
                return False
            stored = Path(doc.stored_path)
            collection_id = doc.collection_id
            session.execute(delete(Chunk).where(Chunk.document_id == document_id))
            session.execute(delete(DocumentTerm).where(DocumentTerm.document_id == document_id))
            session.delete(doc)
            shared = session.scalars(
                select(Document.id).where(Document.stored_path == str(stored), Document.id != document_id)
            ).first()
        self.vector_index.delete_document(document_id, collection_id)
        if shared is None:
            stored.unlink(missing_ok=True)
        logger.info("deleted document_id=%s", document_id)
        return True
