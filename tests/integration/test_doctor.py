"""`docent doctor` finds and repairs disagreement between the catalog, Chroma and the keyword index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sqlalchemy import select, text
from typer.testing import CliRunner

from api.cli import app
from ingest.embeddings import LocalOnnxEmbedder
from ingest.models import Chunk
from ingest.settings import Settings
from tests.fixtures.pdfgen import make_pdf
from tests.integration.helpers import ingest_stack

PAGES = [
    "The harbour board approved dredging the north channel to a depth of 14 metres.",
    "Pilots reported fog in the north channel on eleven mornings in March.",
]


def _doctor(settings: Settings, *args: str) -> tuple[int, dict[str, Any]]:
    result = CliRunner().invoke(app, ["doctor", "--json", *args], env={"DOCENT_DATA_DIR": str(settings.data_dir)})
    return result.exit_code, json.loads(result.stdout)


def test_doctor_finds_and_repairs_every_kind_of_drift(
    settings: Settings, embedder: LocalOnnxEmbedder, tmp_path: Path
) -> None:
    pipeline, _ = ingest_stack(settings, embedder)
    factory, index = pipeline.session_factory, pipeline.vector_index
    first = pipeline.run(pipeline.register(make_pdf(tmp_path / "a.pdf", PAGES), "a.pdf").id)
    second = pipeline.run(
        pipeline.register(make_pdf(tmp_path / "b.pdf", [*PAGES[::-1], "A third page about the harbour."]), "b.pdf").id
    )
    assert first.status == second.status == "done"
    code, report = _doctor(settings)
    assert code == 0 and report["healthy"] and report["orphan_vectors"] == 0

    collection_id = 1
    # 1. orphans: vectors of an ingest that never reached the catalog
    index.upsert(collection_id, ["orphan-1", "orphan-2"], [[0.1] * 384, [0.2] * 384], [{"document_id": "gone"}] * 2)
    # 2. lost vectors of a ready document
    with factory() as session:
        lost = list(session.scalars(select(Chunk.chunk_id).where(Chunk.document_id == first.document_id)))
    index.delete_ids(collection_id, lost[:1])
    # 3. keyword index drift: a chunk row changed behind the triggers' back
    with factory.begin() as session:
        session.execute(text("DROP TRIGGER chunks_fts_ad"))
        session.execute(text("DELETE FROM chunks WHERE document_id = :d"), {"d": second.document_id})
    with factory.begin() as session:  # the trigger comes back; the index stays stale
        session.execute(
            text(
                "CREATE TRIGGER chunks_fts_ad AFTER DELETE ON chunks BEGIN INSERT INTO chunks_fts(chunks_fts, rowid, "
                "context, text) VALUES ('delete', old.id, old.context, old.text); END"
            )
        )
    code, report = _doctor(settings)
    assert code == 1 and not report["healthy"]
    assert report["orphan_vectors"] == 2 + second.chunks  # the two strays, and the hand-deleted rows' vectors
    assert report["documents_missing_vectors"] == [first.document_id]
    assert report["incomplete_documents"] == [second.document_id]
    assert report["keyword_index_ok"] is False

    code, repaired = _doctor(settings, "--repair")
    assert code == 0 and any(r.startswith("requeued:") for r in repaired["repaired"])
    assert "rebuilt the keyword index" in repaired["repaired"]
    code, after = _doctor(settings)
    assert code == 0 and after["healthy"], after
    assert index.count() == first.chunks + second.chunks  # both documents whole again


def test_doctor_indexes_the_terms_of_documents_ingested_before_the_document_index(
    settings: Settings, embedder: LocalOnnxEmbedder, tmp_path: Path
) -> None:
    pipeline, _ = ingest_stack(settings, embedder)
    factory = pipeline.session_factory
    job = pipeline.run(pipeline.register(make_pdf(tmp_path / "harbour_2023.pdf", PAGES), "harbour_2023.pdf").id)
    terms_sql = text("SELECT term, tf FROM document_terms WHERE document_id = :d")
    with factory.begin() as session:
        written = dict(session.execute(terms_sql, {"d": job.document_id}).tuples().all())
        assert written["harbour"] == 2 and written["dredg"] == 1  # file name and cover text; Snowball stems
        session.execute(text("DELETE FROM document_terms"))  # as if ingested before migration 0004
        session.execute(text("UPDATE documents SET term_count = 0"))
    code, report = _doctor(settings)
    assert code == 1 and report["documents_missing_terms"] == [job.document_id]
    code, repaired = _doctor(settings, "--repair")
    assert code == 0 and "indexed the terms of 1 documents" in repaired["repaired"]
    assert not any(r.startswith("requeued:") for r in repaired["repaired"])  # nothing re-embedded
    with factory() as session:
        assert dict(session.execute(terms_sql, {"d": job.document_id}).tuples().all()) == written
    assert _doctor(settings)[1]["healthy"]
