"""Bulk ingestion of many files by one process (``docent ingest`` when it holds the writer lock).

Parsing overlaps embedding: up to ``parse_workers`` files are hashed, registered and parsed ahead
(each parse in its own isolated child process, so this is a process pool with time and memory
limits) while the calling thread embeds and writes the file before them, in input order. Embedding
is the bottleneck (DESIGN §2), so the parses mostly hide behind it.

Stopping is safe at any point: ``cancel`` makes parses and embedding stop at their next check, and
an interrupted run (Ctrl-C, SIGKILL) leaves each file either whole in every store or not at all.
The next run skips finished files by content hash, re-runs interrupted jobs and retries cancelled
ones.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ingest.models import IngestJob, JobStatus

if TYPE_CHECKING:
    from ingest.pipeline import IngestPipeline, Prepared

__all__ = ["FileResult", "ingest_files", "job_result", "result_label"]

logger = logging.getLogger(__name__)

_LABELS = {
    JobStatus.done.value: "ingested",
    JobStatus.duplicate.value: "duplicate",
    JobStatus.cancelled.value: "cancelled",
}


@dataclass
class FileResult:
    """What happened to one file: ``status`` is ingested, duplicate, failed or cancelled, with the
    job's ``reason`` and machine-readable ``code`` when it did not succeed; ``seconds`` is wall time
    from its registration to its end."""

    path: str
    name: str
    status: str
    pages: int | None = None
    chunks: int | None = None
    reason: str | None = None
    code: str | None = None
    seconds: float = 0.0


def result_label(status: str) -> str:
    """What a file whose job ended in ``status`` is reported as: ingested, duplicate, cancelled or failed."""
    return _LABELS.get(status, "failed")


def job_result(path: str, name: str, job: IngestJob, started: float) -> FileResult:
    """The ``FileResult`` of a file whose job has ended; ``started`` is its ``perf_counter`` start."""
    return FileResult(
        path=path,
        name=name,
        status=result_label(job.status),
        pages=job.pages_total,
        chunks=job.chunks or None,
        reason=job.error,
        code=job.error_code,
        seconds=round(time.perf_counter() - started, 2),
    )


def ingest_files(
    pipeline: IngestPipeline,
    files: Sequence[tuple[Path, str]],
    collection: str,
    *,
    parse_workers: int = 1,
    cancel: threading.Event | None = None,
    on_progress: Callable[[IngestJob], None] | None = None,
    on_result: Callable[[FileResult], None] | None = None,
) -> list[FileResult]:
    """Ingest ``files`` (``(path, name)`` pairs; the name is what the catalog shows) into
    ``collection``; returns one result per file, in input order. Never raises for a bad file.

    ``parse_workers`` files are parsed ahead of the one being embedded. Setting ``cancel`` stops
    the run: the file being embedded ends ``cancelled`` (nothing of it is written) and files not
    yet started are left out of the results. ``on_progress`` gets each job update (from worker
    threads too); ``on_result`` each finished file.
    """
    from ingest.pipeline import Prepared

    cancel = cancel or threading.Event()
    results: list[FileResult] = []

    seen: set[str] = set()
    seen_lock = threading.Lock()

    def register_and_prepare(path: Path, name: str) -> tuple[IngestJob | Prepared | FileResult, float]:
        started = time.perf_counter()
        try:
            job = pipeline.register(path, name, collection)
            with seen_lock:  # the same content twice in one run: the second is a duplicate
                repeat = job.id in seen
                seen.add(job.id)
            if repeat:
                return FileResult(str(path), name, "duplicate", job.pages_total, job.chunks or None), started
            if job.status != JobStatus.queued or cancel.is_set():
                return job, started
            return pipeline.prepare(job.id, on_progress, cancel=cancel), started
        except Exception as exc:  # unreadable, vanished, …: this file fails, the run goes on
            logger.warning("could not ingest %s", path, exc_info=True)
            return FileResult(
                str(path), name, "failed", reason=f"{type(exc).__name__}: {exc}", code="io_error"
            ), started

    pending: deque[tuple[Path, str, Future[tuple[IngestJob | Prepared | FileResult, float]]]] = deque()
    upcoming = iter(files)
    with ThreadPoolExecutor(max_workers=max(1, parse_workers), thread_name_prefix="docent-parse") as pool:

        def top_up() -> None:
            while len(pending) < max(1, parse_workers) + 1 and not cancel.is_set():
                item = next(upcoming, None)
                if item is None:
                    return
                pending.append((item[0], item[1], pool.submit(register_and_prepare, *item)))

        try:
            top_up()
            while pending:
                path, name, future = pending.popleft()
                outcome, started = future.result()
                top_up()
                if isinstance(outcome, FileResult):
                    result = outcome
                else:
                    job = pipeline.index(outcome) if isinstance(outcome, Prepared) else outcome
                    result = job_result(str(path), name, job, started)
                results.append(result)
                if on_result is not None:
                    on_result(result)
        except BaseException:  # Ctrl-C above all: parses still running stop within a moment
            cancel.set()
            for _, _, future in pending:
                future.cancel()
            raise
    return results
