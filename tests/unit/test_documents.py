"""Upload names and job ETAs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.documents import job_eta_s, upload_name
from ingest.chunking import document_context
from ingest.models import IngestJob


@pytest.mark.parametrize(
    ("sent", "stored"),
    [
        ("report.pdf", "report.pdf"),
        ("2023/q3/report.pdf", "2023/q3/report.pdf"),
        ("../../etc/passwd", "etc/passwd"),
        ("/abs/x.pdf", "abs/x.pdf"),
        ("dir\\win.docx", "dir/win.docx"),
        ("./a/./b.md", "a/b.md"),
        (None, "upload"),
        ("", "upload"),
    ],
)
def test_upload_names_keep_relative_folders_and_nothing_else(sent: str | None, stored: str) -> None:
    assert upload_name(sent) == stored


def test_folder_names_become_context_words() -> None:
    assert document_context("Apple/2023_Q3_10-Q.pdf", None) == "Apple 2023 Q3 10-Q"


def _job(status: str, started_ago_s: float | None, **fields: object) -> IngestJob:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    job = IngestJob(status=status, started_at=None if started_ago_s is None else now - timedelta(seconds=started_ago_s))
    for key, value in {"pages_done": 0, "pages_total": None, "chunks": 0, "chunks_embedded": 0, **fields}.items():
        setattr(job, key, value)
    return job


def test_eta_extrapolates_elapsed_time_over_progress() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    # parsing done (23%) and half the chunks embedded: 61.5% done after 23 s -> 14.4 s left
    halfway = _job("embedding", 23, pages_done=10, pages_total=10, chunks=100, chunks_embedded=50)
    assert job_eta_s(halfway, now) == pytest.approx(14.4, abs=0.1)
    # a quarter of the pages parsed after 3 s: 5.75% done -> 49.2 s left
    assert job_eta_s(_job("parsing", 3, pages_done=5, pages_total=20), now) == pytest.approx(49.2, abs=0.1)
    naive = _job("embedding", 23, chunks=100, chunks_embedded=50)
    naive.started_at = naive.started_at.replace(tzinfo=None)  # type: ignore[union-attr]  # as SQLite returns it
    assert job_eta_s(naive, now) is not None


def test_no_eta_before_there_is_progress_or_after_the_end() -> None:
    now = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
    assert job_eta_s(_job("queued", None), now) is None
    assert job_eta_s(_job("parsing", 1, pages_done=0, pages_total=300), now) is None
    assert job_eta_s(_job("done", 30, chunks=10, chunks_embedded=10), now) is None
    assert job_eta_s(_job("cancelled", 30), now) is None
