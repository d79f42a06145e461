"""Documents and jobs: receiving uploads, the ingest worker, listing and deleting.

Uploads are streamed to disk while hashed and measured (the size limit holds while reading); each
file becomes a job. One ``IngestWorker`` thread runs jobs in order — exactly one writer per embedded
Chroma directory — and re-queues jobs a restart interrupted.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import tempfile
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path, PurePosixPath

from fastapi import UploadFile
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.errors import DocumentNotFound, JobNotFound, PayloadTooLarge, UnsupportedDocument
from api.schemas import DocumentPublic, JobPublic
from ingest.loaders import ParseError, content_type_for
from ingest.models import Collection, Document, IngestJob, JobStatus, as_utc, utcnow
from ingest.pipeline import DEFAULT_COLLECTION, IngestPipeline, Prepared

__all__ = ["DocumentService", "IngestWorker", "document_public", "job_public"]

logger = logging.getLogger(__name__)

READ_BLOCK = 1 << 20


#: Share of a job's work that is parsing and chunking (the rest is embedding and indexing), used to
#: turn stage progress into one fraction: 120.5 s parsing against 407.6 s embedding for the same
#: 30 filings (``python -m tests.bench.ingest_compare``: parse-only and embed-only).
PARSE_SHARE = 0.23
#: Longest sleep of an idle worker between looks at the catalog for queued jobs, in seconds.
WORKER_IDLE_S = 1.0
#: Without the writer lock, a running job with no progress for this long is taken as dead at start
#: (jobs report progress every few pages and every embedding batch; parsing is capped at 300 s).
STALE_JOB_S = 600.0


def job_eta_s(job: IngestJob, now: datetime | None = None) -> float | None:
    """Seconds left for a running job, extrapolated from its elapsed time and progress fraction
    (pages parsed, then chunks embedded, weighted by ``PARSE_SHARE``); None when not running or
    too early to tell (under 2% done)."""
    if job.started_at is None or JobStatus(job.status).terminal or job.status == JobStatus.queued:
        return None
    if job.status == JobStatus.parsing:
        done = PARSE_SHARE * (job.pages_done / job.pages_total if job.pages_total else 0.0)
    elif job.status == JobStatus.embedding:
        done = PARSE_SHARE + (1 - PARSE_SHARE) * (job.chunks_embedded / job.chunks if job.chunks else 0.0)
    else:  # chunking, indexing
        done = PARSE_SHARE if job.status == JobStatus.chunking else 0.99
    if done < 0.02:
        return None
    elapsed = ((now or utcnow()) - as_utc(job.started_at)).total_seconds()
    return round(max(0.0, elapsed * (1 - done) / done), 1)


def upload_name(filename: str | None) -> str:
    """The name an upload is catalogued under: its relative path with ``/`` separators (``docent
    ingest --server`` sends ``2023/report.pdf`` so same-named files in different folders stay
    apart), without empty, ``.`` or ``..`` parts; at most 512 characters. The stored file is named
    by its content hash, so the name is a label only."""
    parts = [p for p in PurePosixPath((filename or "").replace("\\", "/")).parts if p not in ("", ".", "..", "/")]
    return "/".join(parts)[-512:] or "upload"


def job_public(job: IngestJob) -> JobPublic:
    return JobPublic(
        id=job.id,
        document_id=job.document_id,
        filename=job.filename,
        collection=job.collection.name,
        status=job.status,  # type: ignore[arg-type]
        error=job.error,
        error_code=job.error_code,
        pages_total=job.pages_total,
        pages_done=job.pages_done,
        chunks=job.chunks,
        chunks_embedded=job.chunks_embedded,
        eta_s=job_eta_s(job),
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
    )


def document_public(doc: Document) -> DocumentPublic:
    return DocumentPublic(
        id=doc.id,
        filename=doc.filename,
        collection=doc.collection.name,
        sha256=doc.sha256,
        content_type=doc.content_type,
        size_bytes=doc.size_bytes,
        pages=doc.pages,
        pages_without_text=doc.pages_without_text,
        chunks=doc.chunk_count,
        status=doc.status,  # type: ignore[arg-type]
        error=doc.error,
        created_at=doc.created_at,
    )


class IngestWorker:
    """Runs queued jobs in the background, oldest first, parsing ahead while it embeds.

    The queue is the catalog itself (jobs in ``queued``), so it survives restarts, never holds a
    job twice and takes no memory however many files are uploaded; ``submit`` only wakes the
    worker. One thread embeds and writes (one writer); ``parse_ahead`` threads parse the next jobs
    (each parse in its own isolated child process) meanwhile.
    """

    def __init__(self, pipeline: IngestPipeline, *, parse_ahead: int = 1, exclusive: bool = True) -> None:
        """``exclusive``: this process holds the writer lock, so every job left running at start
        is dead; without it (a Chroma server shared by several processes) only jobs with no
        progress for ``STALE_JOB_S`` are."""
        self.pipeline = pipeline
        self.parse_ahead = max(1, parse_ahead)
        self.exclusive = exclusive
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="docent-ingest", daemon=True)

    def start(self) -> None:
        """Re-queue jobs left unfinished by a previous run, then start the thread."""
        for job_id in self.pipeline.requeue_interrupted(None if self.exclusive else STALE_JOB_S):
            logger.info("re-queueing interrupted job_id=%s", job_id)
        self._thread.start()

    def submit(self, job_id: str) -> None:
        """Tell the worker a job was queued (it is already in the catalog)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> bool:
        """Stop: running jobs stop at their next check and stay unfinished, to resume at the next
        start, as do queued ones. Returns False when the thread outlived ``timeout``."""
        self._stopping.set()
        self.pipeline.shutdown()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def pending(self) -> int:
        """Jobs waiting in ``queued``."""
        return self.pipeline.queued_count()

    def _loop(self) -> None:
        ahead: deque[tuple[str, Future[Prepared | IngestJob]]] = deque()
        pool = ThreadPoolExecutor(max_workers=self.parse_ahead, thread_name_prefix="docent-parse")
        try:
            while not self._stopping.is_set():
                job_id = None
                try:
                    while len(ahead) <= self.parse_ahead:
                        queued = self.pipeline.next_queued({j for j, _ in ahead})
                        if queued is None:
                            break
                        ahead.append((queued, pool.submit(self.pipeline.prepare, queued)))
                    if not ahead:
                        self._wake.wait(WORKER_IDLE_S)
                        self._wake.clear()
                        continue
                    job_id, future = ahead.popleft()
                    prepared = future.result()
                    if isinstance(prepared, Prepared) and not self._stopping.is_set():
                        self.pipeline.index(prepared)
                except Exception as exc:  # the worker outlives any one job; that job must not stay running
                    logger.exception("ingest worker error job_id=%s", job_id)
                    if job_id is not None:
                        self.pipeline.fail_job(job_id, exc)
                    time.sleep(WORKER_IDLE_S)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)  # prepares still running were cancelled by stop()


class DocumentService:
    """Upload, list, read, delete. Collaborators passed in; thread-safe."""

    def __init__(
        self,
        *,
        pipeline: IngestPipeline,
        worker: IngestWorker,
        session_factory: sessionmaker[Session],
        max_upload_bytes: int,
    ) -> None:
        self.pipeline = pipeline
        self.worker = worker
        self.session_factory = session_factory
        self.max_upload_bytes = max_upload_bytes

    async def receive(self, files: Sequence[UploadFile], collection: str | None) -> list[JobPublic]:
        """Store each upload and queue it. Raises ``UnsupportedDocument`` (415) when any file has
        an unsupported type and ``PayloadTooLarge`` (413) when one exceeds the limit — checked for
        all files before any is registered, so a rejected request leaves nothing behind."""
        for upload in files:
            try:
                content_type_for(upload.filename or "")
            except ParseError as exc:
                raise UnsupportedDocument(f"{upload.filename}: {exc.message}") from exc
        staged: list[tuple[Path, str, str]] = []
        tmp_dir = self.pipeline.settings.uploads_dir / "incoming"
        tmp_dir.mkdir(parents=True, exist_ok=True)
        try:
            for upload in files:
                staged.append(await self._stage(upload, tmp_dir))
            jobs = []
            for path, name, digest in staged:
                job = await asyncio.to_thread(
                    self.pipeline.register, path, name, collection or DEFAULT_COLLECTION, sha256=digest, move=True
                )
                if job.status == "queued":
                    self.worker.submit(job.id)
                jobs.append(job_public(job))
            return jobs
        finally:
            for path, _, _ in staged:
                path.unlink(missing_ok=True)

    async def _stage(self, upload: UploadFile, tmp_dir: Path) -> tuple[Path, str, str]:
        name = upload_name(upload.filename)
        digest = hashlib.sha256()
        size = 0
        handle = tempfile.NamedTemporaryFile(dir=tmp_dir, delete=False, suffix=".part")  # noqa: SIM115
        path = Path(handle.name)
        try:
            with handle:
                while block := await upload.read(READ_BLOCK):
                    size += len(block)
                    if size > self.max_upload_bytes:
                        raise PayloadTooLarge(
                            f"{name} is larger than the {self.max_upload_bytes // (1 << 20)} MB upload limit"
                        )
                    digest.update(block)
                    await asyncio.to_thread(handle.write, block)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
        return path, name, digest.hexdigest()

    def list(self, collection: str | None = None) -> list[DocumentPublic]:
        with self.session_factory() as session:
            stmt = select(Document).order_by(Document.created_at.desc())
            if collection is not None:
                stmt = stmt.join(Collection).where(Collection.name == collection)
            return [document_public(d) for d in session.scalars(stmt)]

    def get(self, document_id: str) -> Document:
        """The document row. Raises ``DocumentNotFound``."""
        with self.session_factory() as session:
            doc = session.get(Document, document_id)
            if doc is None:
                raise DocumentNotFound(f"no document {document_id}")
            return doc

    def delete(self, document_id: str) -> None:
        """Delete catalog rows, keyword entries and vectors. Raises ``DocumentNotFound``."""
        if not self.pipeline.delete_document(document_id):
            raise DocumentNotFound(f"no document {document_id}")

    def cancel_job(self, job_id: str) -> JobPublic:
        """Cancel a queued or running job (see ``IngestPipeline.cancel_job``). Raises ``JobNotFound``."""
        self.job(job_id)
        return job_public(self.pipeline.cancel_job(job_id))

    def job(self, job_id: str) -> JobPublic:
        """Raises ``JobNotFound``."""
        with self.session_factory() as session:
            job = session.get(IngestJob, job_id)
            if job is None:
                raise JobNotFound(f"no job {job_id}")
            return job_public(job)
