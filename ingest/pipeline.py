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
import os
import shutil
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ingest.chunking import (
    ChunkSpec,
    chunk_id_for,
    chunk_pages,
    chunk_sections,
    document_context,
    document_text,
    embedding_input,
    page_headings,
)
from ingest.embeddings import Embedder
from ingest.index import DocumentKeywordIndex, VectorIndex, document_card, document_terms
from ingest.loaders import ParseError, content_type_for, parse_isolated
from ingest.models import Chunk, Collection, Document, DocumentStatus, DocumentTerm, IngestJob, JobStatus, utcnow
from ingest.settings import Settings

__all__ = ["DEFAULT_COLLECTION", "IngestPipeline", "Prepared", "file_sha256"]

logger = logging.getLogger(__name__)

DEFAULT_COLLECTION = "default"
PROGRESS_INTERVAL_S = 0.5

JobCallback = Callable[[IngestJob], None]


class _Deleted(Exception):
    """The document's row vanished (deleted) before its chunks were committed."""


@dataclass
class Prepared:
    """A parsed and chunked document, ready for ``IngestPipeline.index``: chunk specs with their
    sections and contexts (what is embedded with each), page spans and document terms."""

    job_id: str
    document_id: str
    collection_id: int
    sha256: str
    filename: str
    pages: int
    pages_without_text: int
    page_spans: list[tuple[int, int]]
    specs: list[ChunkSpec]
    sections: list[str]
    contexts: list[str]
    terms: Counter[str]
    cancel: threading.Event
    on_progress: JobCallback | None = None


@dataclass(frozen=True)
class _Removed:
    """A document whose catalog rows are gone: its vectors and (unless shared) file go next."""

    document_id: str
    collection_id: int
    stored: Path | None


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
        contextual: bool = True,
    ) -> None:
        """``contextual=False`` embeds and indexes chunk text alone, without the document's
        context (the baseline ``docent eval --baseline`` measures against)."""
        self.settings = settings
        self.contextual = contextual
        self.session_factory = session_factory
        self.embedder = embedder
        self.vector_index = vector_index
        self._events_lock = threading.Lock()
        self._cancel_events: dict[str, threading.Event] = {}
        self._shutting_down = threading.Event()

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
        """Set ``fields`` on the job unless it has ended (progress never overwrites ``done`` or
        ``cancelled``), commit, and return the job."""
        with self.session_factory.begin() as session:
            job = session.get_one(IngestJob, job_id)
            if not JobStatus(job.status).terminal:
                for key, value in fields.items():
                    setattr(job, key, value)
                job.updated_at = utcnow()
            _ = job.collection  # loaded for callers outside the session
        return job

    def _claim(self, job_id: str, expected: Sequence[JobStatus], status: JobStatus, **fields: object) -> bool:
        """Move the job to ``status`` only if it is in one of ``expected`` (one conditional
        UPDATE, so of two processes or threads racing for a job exactly one wins)."""
        with self.session_factory.begin() as session:
            result = session.execute(
                update(IngestJob)
                .where(IngestJob.id == job_id, IngestJob.status.in_([e.value for e in expected]))
                .values(status=status.value, updated_at=utcnow(), **fields)
            )
            return bool(getattr(result, "rowcount", 0) == 1)

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
                handle, tmp_name = tempfile.mkstemp(dir=self.settings.uploads_dir, suffix=".part")
                os.close(handle)
                tmp = Path(tmp_name)
                try:
                    shutil.copyfile(source, tmp)
                    tmp.replace(stored)  # atomic: a concurrent copy of the same content is identical
                finally:
                    tmp.unlink(missing_ok=True)
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
            if doc is not None and doc.status == DocumentStatus.pending:  # queued or interrupted: that job
                unfinished = [j.value for j in JobStatus if not j.terminal]
                running = session.scalars(
                    select(IngestJob.id)
                    .where(IngestJob.document_id == doc.id, IngestJob.status.in_(unfinished))
                    .order_by(IngestJob.created_at.desc())
                ).first()
                if running is not None:
                    return running
            if doc is not None and doc.status == DocumentStatus.ready:
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
            else:  # a failed (or stuck) document gets another try
                doc.status = DocumentStatus.pending.value
                doc.error = None
                doc.filename = filename
            session.flush()
            job = IngestJob(document_id=doc.id, collection_id=coll.id, filename=filename)
            session.add(job)
            session.flush()
            return job.id

    def requeue_interrupted(self, stale_after_s: float | None = None) -> list[str]:
        """Reset jobs left running by a process that died (or was stopped) to ``queued``, oldest
        first, and return their ids. With ``stale_after_s`` None the caller must hold the writer
        lock (no other process runs jobs); without the lock (a Chroma server shared by several
        processes) only jobs with no progress for ``stale_after_s`` seconds are taken as dead."""
        running = [s for s in JobStatus if not s.terminal and s != JobStatus.queued]
        ids = self.unfinished_job_ids(stale_after_s)
        return [job_id for job_id in ids if self._claim(job_id, running, JobStatus.queued, error=None, error_code=None)]

    def unfinished_job_ids(self, stale_after_s: float | None = None) -> list[str]:
        """Jobs not in a terminal state, oldest first; with ``stale_after_s``, only those not
        updated for that many seconds."""
        terminal = [s.value for s in JobStatus if s.terminal]
        stmt = select(IngestJob.id).where(IngestJob.status.not_in(terminal))
        if stale_after_s is not None:
            stmt = stmt.where(IngestJob.updated_at < utcnow() - timedelta(seconds=stale_after_s))
        with self.session_factory() as session:
            return list(session.scalars(stmt.order_by(IngestJob.created_at)))

    # -- running ---------------------------------------------------------------------------------

    def run(self, job_id: str, on_progress: JobCallback | None = None) -> IngestJob:
        """Run job ``job_id`` to ``done`` or ``failed`` (``prepare`` then ``index``); never raises
        for a bad file. ``on_progress`` receives the job after each (throttled) update."""
        prepared = self.prepare(job_id, on_progress)
        if isinstance(prepared, IngestJob):
            return prepared
        return self.index(prepared)

    def prepare(
        self, job_id: str, on_progress: JobCallback | None = None, *, cancel: threading.Event | None = None
    ) -> Prepared | IngestJob:
        """The CPU-light half of a job, safe to run ahead in another thread: parse (in an isolated
        child process), chunk, and gather sections and document terms. Returns what ``index``
        needs, or the job itself when it is already over or has just failed (a bad file, the
        document deleted, ``cancel`` set). Never raises for a bad file."""
        cancel = self._cancel_event(job_id, cancel)  # first, so cancel_job either sees it or loses the claim
        claimed = self._claim(
            job_id, [JobStatus.queued], JobStatus.parsing, started_at=utcnow(), error=None, error_code=None
        )
        with self.session_factory() as session:
            job = session.get_one(IngestJob, job_id)
            found = session.get(Document, job.document_id) if job.document_id else None
        if not claimed:  # over already, cancelled, or running elsewhere
            self._forget(job_id)
            return self.get_job(job_id)
        if found is None:  # deleted while queued
            self._forget(job_id)
            self._fail(job_id, None, "document_deleted", "the document was deleted before it was ingested")
            return self.get_job(job_id)
        doc = found
        progress = _Progress(self, job_id, on_progress)
        if on_progress is not None:
            on_progress(self.get_job(job_id))
        try:
            parsed = parse_isolated(
                Path(doc.stored_path),
                doc.content_type,
                timeout_s=self.settings.parse_timeout_s,
                memory_mb=self.settings.parse_memory_mb,
                progress=lambda done, total: progress(pages_done=done, pages_total=total),
                cancel=cancel,
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
            text, spans = document_text(parsed.pages)
            sections = chunk_sections(specs, parsed.headings, spans)
            context = document_context(doc.filename, parsed.title)
            # where the format marks no headings (PDF), each chunk carries its page's opening
            labels = sections if parsed.headings else page_headings(specs, parsed.pages, spans)
            contexts = (
                [f"{context} · {label}" if label else context for label in labels]
                if self.contextual
                else [""] * len(specs)
            )
            terms = document_terms(document_card(context, text))
        except ParseError as exc:
            self._forget(job_id)
            if exc.code != "cancelled" or not self._shutting_down.is_set():
                self._fail(job_id, doc.id, exc.code, exc.message)
            return self.get_job(job_id)  # stopped by shutdown: left unfinished, resumed at the next start
        except Exception as exc:  # any other failure fails this job with its reason, never the process
            self._forget(job_id)
            logger.exception("ingest failed job_id=%s file=%s", job_id, doc.filename)
            self._fail(job_id, doc.id, "internal_error", f"{type(exc).__name__}: {exc}")
            return self.get_job(job_id)
        return Prepared(
            cancel=cancel,
            job_id=job_id,
            document_id=doc.id,
            collection_id=doc.collection_id,
            sha256=doc.sha256,
            filename=doc.filename,
            pages=len(parsed.pages),
            pages_without_text=parsed.pages_without_text,
            page_spans=spans,
            specs=specs,
            sections=sections,
            contexts=contexts,
            terms=terms,
            on_progress=on_progress,
        )

    def index(self, prepared: Prepared) -> IngestJob:
        """The CPU-heavy half: embed the chunks, upsert the vectors, then write the catalog in one
        transaction (chunk rows, keyword entries, document terms, ready), replacing earlier
        versions of the same file name in the collection. Never raises for a bad file."""
        p = prepared
        job_id = p.job_id
        progress = _Progress(self, job_id, p.on_progress)
        replaced: list[_Removed] = []
        try:
            progress(force=True, status=JobStatus.embedding.value, chunks=len(p.specs), chunks_embedded=0)

            def before_batch(done: int) -> None:
                if p.cancel.is_set():
                    raise ParseError("cancelled", "ingestion was cancelled")
                progress(chunks_embedded=done)

            # the whole document in one call: the embedder batches its chunks by length
            inputs = [embedding_input(context, spec.text) for context, spec in zip(p.contexts, p.specs, strict=True)]
            vectors = self.embedder.embed(inputs, before_batch)
            progress(force=True, status=JobStatus.indexing.value, chunks_embedded=len(vectors))
            ids = [chunk_id_for(p.sha256, p.collection_id, s.ordinal) for s in p.specs]
            metas = [
                {"document_id": p.document_id, "collection_id": p.collection_id, "page": s.page_start} for s in p.specs
            ]
            self.vector_index.upsert(p.collection_id, ids, vectors, metas)
            with self.session_factory.begin() as session:
                status = session.execute(  # the row lock makes a concurrent cancel wait for this commit
                    select(IngestJob.status).where(IngestJob.id == job_id).with_for_update()
                ).scalar_one()
                if p.cancel.is_set() or status == JobStatus.cancelled:
                    raise ParseError("cancelled", "ingestion was cancelled")
                stored_job = session.get_one(IngestJob, job_id)
                stored_doc = session.get(Document, p.document_id)
                if stored_doc is None:  # deleted while it was being embedded
                    raise _Deleted
                session.execute(delete(Chunk).where(Chunk.document_id == p.document_id))
                term_count = DocumentKeywordIndex.write(session, p.document_id, p.collection_id, p.terms)
                session.add_all(
                    Chunk(
                        chunk_id=cid,
                        document_id=p.document_id,
                        collection_id=p.collection_id,
                        ordinal=s.ordinal,
                        page_start=s.page_start,
                        page_end=s.page_end,
                        char_start=s.char_start,
                        char_end=s.char_end,
                        text=s.text,
                        section=section,
                        context=context,
                    )
                    for cid, s, section, context in zip(ids, p.specs, p.sections, p.contexts, strict=True)
                )
                stored_doc.status = DocumentStatus.ready.value
                stored_doc.error = None
                stored_doc.pages = p.pages
                stored_doc.pages_without_text = p.pages_without_text
                stored_doc.page_spans = [list(span) for span in p.page_spans]
                stored_doc.chunk_count = len(p.specs)
                stored_doc.term_count = term_count
                stored_doc.embedder = self.embedder.name
                stored_job.status = JobStatus.done.value
                stored_job.finished_at = utcnow()
                replaced = self._remove_rows(
                    session,
                    session.scalars(
                        select(Document).where(
                            Document.collection_id == p.collection_id,
                            Document.filename == p.filename,
                            Document.id != p.document_id,
                            Document.status != DocumentStatus.pending.value,
                        )
                    ).all(),
                )
            logger.info(
                "ingested document_id=%s file=%s pages=%d chunks=%d", p.document_id, p.filename, p.pages, len(p.specs)
            )
        except _Deleted:
            self._discard_vectors(p.document_id, p.collection_id)
            self._fail(job_id, None, "document_deleted", "the document was deleted while it was being ingested")
        except ParseError as exc:  # cancelled (vectors written by then are not kept)
            if not self._is_ready(p.document_id):
                self._discard_vectors(p.document_id, p.collection_id)
            if not self._shutting_down.is_set():
                self._fail(job_id, p.document_id, exc.code, exc.message)
        except Exception as exc:  # any other failure fails this job with its reason, never the process
            logger.exception("ingest failed job_id=%s file=%s", job_id, p.filename)
            if not self._is_ready(p.document_id):  # never remove the vectors of a document another run completed
                self._discard_vectors(p.document_id, p.collection_id)
            self._fail(job_id, p.document_id, "internal_error", f"{type(exc).__name__}: {exc}")
        finally:
            self._forget(job_id)
        if replaced:  # earlier versions of this file name, gone with the commit: their vectors and files
            try:
                self._remove_stored(replaced)
            except OSError:
                logger.warning("could not remove the files of replaced versions of %s", p.filename, exc_info=True)
        final = self.get_job(job_id)
        if p.on_progress is not None:
            p.on_progress(final)
        return final

    def _cancel_event(self, job_id: str, given: threading.Event | None) -> threading.Event:
        """Register the event that cancels ``job_id`` while it runs (the caller's, or a new one)."""
        with self._events_lock:
            event = self._cancel_events[job_id] = given or threading.Event()
            if self._shutting_down.is_set():
                event.set()
            return event

    def _forget(self, job_id: str) -> None:
        with self._events_lock:
            self._cancel_events.pop(job_id, None)

    def shutdown(self) -> None:
        """Stop running jobs at their next check without failing them: they stay unfinished and
        ``requeue_interrupted`` resumes them at the next start."""
        self._shutting_down.set()
        with self._events_lock:
            for event in self._cancel_events.values():
                event.set()

    def next_queued(self, exclude: set[str] | frozenset[str] = frozenset()) -> str | None:
        """The oldest ``queued`` job not in ``exclude``, or None."""
        with self.session_factory() as session:
            stmt = select(IngestJob.id).where(IngestJob.status == JobStatus.queued.value)
            if exclude:
                stmt = stmt.where(IngestJob.id.not_in(exclude))
            return session.scalars(stmt.order_by(IngestJob.created_at).limit(1)).first()

    def queued_count(self) -> int:
        """How many jobs wait in ``queued``."""
        with self.session_factory() as session:
            return session.execute(
                select(func.count()).select_from(IngestJob).where(IngestJob.status == JobStatus.queued.value)
            ).scalar_one()

    def cancel_job(self, job_id: str) -> IngestJob:
        """Cancel a job: a queued one at once, a running one at its next check (parsing within
        0.25 s, embedding between batches, at the latest before its catalog commit; its vectors
        are then removed). Jobs already over are returned unchanged."""
        with self._events_lock:
            running = self._cancel_events.get(job_id)
            if running is not None:
                running.set()
        message = "ingestion was cancelled before it started"
        if self._claim(job_id, [JobStatus.queued], JobStatus.cancelled, error=message, error_code="cancelled"):
            job = self.get_job(job_id)
            self._fail(job_id, job.document_id, "cancelled", message)
        return self.get_job(job_id)

    def fail_job(self, job_id: str, exc: BaseException) -> None:
        """Best effort, for a job whose run raised out of the pipeline (the catalog failing, say):
        mark it failed so it is never left running forever."""
        try:
            job = self.get_job(job_id)
            if not JobStatus(job.status).terminal:
                self._fail(job_id, job.document_id, "internal_error", f"{type(exc).__name__}: {exc}")
        except Exception:  # the catalog itself may be what failed; the next start requeues the job
            logger.exception("could not mark job_id=%s failed", job_id)

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
        """Mark the job failed (``cancelled`` for that code), and its document failed unless it
        is ready or gone (deleted): uploading or ingesting the file again retries it."""
        with self.session_factory.begin() as session:
            job = session.get_one(IngestJob, job_id)
            if job.status == JobStatus.done:  # a finished job stays finished
                return
            job.status = JobStatus.cancelled.value if code == "cancelled" else JobStatus.failed.value
            job.error = message
            job.error_code = code
            job.finished_at = utcnow()
            doc = session.get(Document, document_id) if document_id else None
            if doc is not None and doc.status != DocumentStatus.ready:
                doc.status = DocumentStatus.failed.value
                doc.error = message
        logger.warning("ingest failed job_id=%s code=%s: %s", job_id, code, message)

    def document_ids_named(self, collection: str, filename: str) -> list[str]:
        """Ids of the documents called ``filename`` in ``collection`` (none when it does not exist)."""
        with self.session_factory() as session:
            coll = self.collection(session, collection, create=False)
            if coll is None:
                return []
            return list(
                session.scalars(
                    select(Document.id).where(Document.collection_id == coll.id, Document.filename == filename)
                )
            )

    def delete_document(self, document_id: str) -> bool:
        """Remove the document's catalog rows (keyword entries go with them), its vectors and its
        stored file when no other document uses it. Returns False when there was no such document."""
        with self.session_factory.begin() as session:
            doc = session.get(Document, document_id)
            if doc is None:
                return False
            removed = self._remove_rows(session, [doc])
        self._remove_stored(removed)
        return True

    @staticmethod
    def _remove_rows(session: Session, docs: Sequence[Document]) -> list[_Removed]:
        """Delete ``docs`` with their chunk rows and terms in the caller's transaction; returns what
        ``_remove_stored`` must clean up once it commits."""
        removed: list[_Removed] = []
        for doc in docs:
            session.execute(delete(Chunk).where(Chunk.document_id == doc.id))
            session.execute(delete(DocumentTerm).where(DocumentTerm.document_id == doc.id))
            session.delete(doc)
            session.flush()
            shared = session.scalars(select(Document.id).where(Document.stored_path == doc.stored_path)).first()
            removed.append(_Removed(doc.id, doc.collection_id, None if shared else Path(doc.stored_path)))
        return removed

    def _remove_stored(self, removed: Sequence[_Removed]) -> None:
        """After the catalog commit: the removed documents' vectors and unshared stored files.
        (Vectors without catalog rows are never returned, and ``docent doctor`` removes any left.)"""
        for item in removed:
            self._discard_vectors(item.document_id, item.collection_id)
            if item.stored is not None:
                item.stored.unlink(missing_ok=True)
            logger.info("deleted document_id=%s", item.document_id)
