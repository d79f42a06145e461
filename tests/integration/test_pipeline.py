"""The ingest pipeline against real stores: embedded Chroma + SQLite, and a real Chroma server
(`chroma run`) + the real PostgreSQL. Idempotent by content hash; delete leaves nothing behind."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, text

from ingest.db import make_engine
from ingest.models import Chunk, Document
from ingest.settings import Settings
from tests.conftest import postgres_url
from tests.fixtures.pdfgen import make_pdf
from tests.integration.helpers import ingest_stack

PAGES = [
    "Minutes of the harbour board. Present: the harbourmaster and four pilots.",
    "The board approved dredging of the north channel to a depth of 14 metres at a cost of 3.2 million.",
    "Any other business: the pilots asked for a new launch. The request was deferred to spring.",
]


@pytest.fixture(params=["embedded+sqlite", "server+postgresql"])
def stack_settings(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Settings]:
    if request.param == "embedded+sqlite":
        yield settings
        return
    base = postgres_url()
    server = request.getfixturevalue("chroma_server")
    schema = f"docent_test_{uuid.uuid4().hex[:10]}"
    admin = make_engine(base)
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {schema}"))
    try:
        yield settings.model_copy(
            update={
                "database_url": f"{base}?options=-csearch_path%3D{schema}",
                "chroma_url": server,
                "chroma_collection": f"c_{schema}",
            }
        )
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_ingest_is_idempotent_and_delete_leaves_nothing(
    stack_settings: Settings, embedder: Any, tmp_path: Path
) -> None:
    pipeline, retriever = ingest_stack(stack_settings, embedder)
    pdf = make_pdf(tmp_path / "minutes.pdf", PAGES)
    job = pipeline.register(pdf, pdf.name)
    done = pipeline.run(job.id)
    assert done.status == "done" and done.chunks >= 3
    vectors = pipeline.vector_index.count()
    assert vectors == done.chunks
    for name in ("minutes.pdf", "copy-of-minutes.pdf", "minutes (1).pdf"):
        again = pipeline.register(pdf, name)
        assert again.status == "duplicate" and again.document_id == done.document_id
    with pipeline.session_factory() as session:
        assert session.scalar(select(func.count()).select_from(Document)) == 1
        assert session.scalar(select(func.count()).select_from(Chunk)) == done.chunks
    assert pipeline.vector_index.count() == vectors
    # rerunning a finished job changes nothing either
    assert pipeline.run(job.id).status == "done" and pipeline.vector_index.count() == vectors

    hits = retriever.retrieve("How deep will the north channel be dredged?", k=3).results
    assert hits and hits[0].page_start == 2 and "14 metres" in hits[0].text

    assert pipeline.delete_document(done.document_id)
    assert pipeline.vector_index.count() == 0
    for mode in ("hybrid", "dense", "keyword"):
        assert retriever.retrieve("north channel dredging depth", k=5, mode=mode).results == []  # type: ignore[arg-type]
    assert list(stack_settings.uploads_dir.glob("*.pdf")) == []  # the stored original went too
    pipeline.session_factory.kw["bind"].dispose()


def test_vectors_of_an_interrupted_ingest_are_never_returned(settings: Settings, embedder: Any, tmp_path: Path) -> None:
    """Vectors written before a crash (no catalog rows yet) stay invisible; the rerun writes the
    same ids, so the store ends with exactly one chunk set."""
    pipeline, retriever = ingest_stack(settings, embedder)
    pdf = make_pdf(tmp_path / "minutes.pdf", PAGES)
    job = pipeline.register(pdf, pdf.name)
    real_begin = pipeline.session_factory.begin
    calls = {"n": 0}

    def crash_at_catalog_commit() -> Any:
        calls["n"] += 1
        raise KeyboardInterrupt("simulated crash between the vector write and the catalog commit")

    with pytest.MonkeyPatch.context() as patch:
        original_upsert = pipeline.vector_index.upsert

        def upsert_then_crash(*args: Any, **kwargs: Any) -> None:
            original_upsert(*args, **kwargs)
            patch.setattr(pipeline.session_factory, "begin", crash_at_catalog_commit)

        patch.setattr(pipeline.vector_index, "upsert", upsert_then_crash)
        with pytest.raises(KeyboardInterrupt):
            pipeline.run(job.id)
    assert calls["n"] == 1 and pipeline.session_factory.begin == real_begin
    orphaned = pipeline.vector_index.count()
    assert orphaned > 0
    assert retriever.retrieve("north channel depth", k=5).results == []
    assert pipeline.unfinished_job_ids() == [job.id]
    assert pipeline.run(job.id).status == "indexing"  # still claimed by the run that died: not run twice
    assert pipeline.requeue_interrupted() == [job.id]  # what a restart does
    assert pipeline.run(job.id).status == "done"
    assert pipeline.vector_index.count() == orphaned
    assert retriever.retrieve("north channel depth", k=5).results


def test_a_document_deleted_while_queued_fails_its_job(settings: Settings, embedder: Any, tmp_path: Path) -> None:
    pipeline, _ = ingest_stack(settings, embedder)
    pdf = make_pdf(tmp_path / "minutes.pdf", PAGES)
    job = pipeline.register(pdf, pdf.name)
    assert pipeline.delete_document(job.document_id or "")
    finished = pipeline.run(job.id)
    assert finished.status == "failed" and finished.error_code == "document_deleted"
    assert pipeline.unfinished_job_ids() == [] and pipeline.vector_index.count() == 0


def test_a_pdf_page_gives_one_result_and_a_text_file_several(settings: Settings, embedder: Any, tmp_path: Path) -> None:
    """Field collapsing: the runners-up of a PDF page give way to other pages; documents without
    pages (text, Markdown) are not collapsed."""
    pipeline, retriever = ingest_stack(settings, embedder)
    dredging = [
        f"Dredging report {i}: the north channel was dredged to {10 + i} metres by the harbour board's "
        f"contractor, who removed silt from berth {i} and logged the channel depth each night."
        for i in range(20)
    ]
    pdf = make_pdf(tmp_path / "dredging.pdf", [" ".join(dredging), "Pilots noted the channel depth after dredging."])
    notes = tmp_path / "dredging-notes.md"
    notes.write_text("\n\n".join(dredging), encoding="utf-8")
    for path in (pdf, notes):
        assert pipeline.run(pipeline.register(path, path.name).id).status == "done"
    with pipeline.session_factory() as session:
        first_page = session.scalar(
            select(func.count())
            .select_from(Chunk)
            .join(Document)
            .where(Document.filename == "dredging.pdf", Chunk.page_start == 1)
        )
    assert first_page and first_page >= 3  # several chunks compete on page 1
    for mode in ("hybrid", "dense", "keyword"):
        results = retriever.retrieve("north channel dredged depth", k=12, mode=mode).results  # type: ignore[arg-type]
        from_pdf = [r.page_start for r in results if r.filename == "dredging.pdf"]
        assert sorted(from_pdf) == [1, 2], (mode, from_pdf)
        assert sum(r.filename == "dredging-notes.md" for r in results) >= 3, mode
        plain = retriever.retrieve("north channel dredged depth", k=12, mode=mode, one_per_page=False).results  # type: ignore[arg-type]
        assert sum(r.filename == "dredging.pdf" and r.page_start == 1 for r in plain) >= 2, mode  # the recipe's top-k


def test_a_statement_pages_line_items_are_found_by_its_heading(
    settings: Settings, embedder: Any, tmp_path: Path
) -> None:
    """A PDF page's opening lines go into the context of the chunks below them (embedded and
    keyword-indexed), never into the stored text: the line items far down a balance sheet page
    answer a question that names the statement."""
    items = "\n".join(f"Deferred charge category {i} net of amortisation {1000 + 37 * i:,}" for i in range(40))
    heading = "Harbour Board Holdings\nConsolidated Balance Sheet\nAt December 31"
    statement = f"{heading}\n{items}\nInventories of dredging spares 4,210"
    notes = "\n".join(
        f"Note {i}: the inventories of dredging spares at the pilots' launch station were counted by two clerks."
        for i in range(8)
    )
    pdf = make_pdf(tmp_path / "annual.pdf", [statement, notes])
    pipeline, retriever = ingest_stack(settings, embedder)
    assert pipeline.run(pipeline.register(pdf, pdf.name).id).status == "done"
    with pipeline.session_factory() as session:
        rows = session.execute(
            select(Chunk.page_start, Chunk.char_start, Chunk.text, Chunk.context).order_by(Chunk.char_start)
        ).all()
    first_page = [r for r in rows if r.page_start == 1]
    assert len(first_page) >= 3
    assert "Balance Sheet" not in first_page[0].context  # the chunk that holds the heading itself
    for row in first_page[1:]:
        assert row.context.startswith("annual · Harbour Board Holdings Consolidated Balance Sheet At December 31")
        assert "Balance Sheet" not in row.text  # what is shown and cited is the page text alone
    assert all(r.context == "annual" for r in rows if r.page_start == 2)  # no short opening lines
    found = retriever.retrieve("balance sheet inventories", k=1, mode="keyword").results
    assert found and found[0].page_start == 1 and "Inventories of dredging spares" in found[0].text
