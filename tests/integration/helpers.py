"""Helpers for integration tests: an ingest pipeline on real stores, catalog rows written directly
(a seeded catalog, documents, chunks), wait for jobs, read an SSE chat stream into parts."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.retrieval import Retriever
from ingest.db import build_catalog, make_engine, make_session_factory, run_migrations
from ingest.index import KeywordIndex, VectorIndex
from ingest.models import Chunk, Collection, Document, JobStatus
from ingest.pipeline import IngestPipeline
from ingest.settings import Settings

TERMINAL = frozenset(s.value for s in JobStatus if s.terminal)


def add_document(
    session: Session, collection_id: int, filename: str, *, status: str = "ready", stored_path: str = ""
) -> Document:
    """A PDF document row (random content hash), flushed so it has its id."""
    doc = Document(
        collection_id=collection_id,
        filename=filename,
        sha256=uuid.uuid4().hex,
        content_type="application/pdf",
        size_bytes=1,
        stored_path=stored_path or f"/x/{filename}",
        status=status,
    )
    session.add(doc)
    session.flush()
    return doc


def add_chunk(
    session: Session, doc: Document, ordinal: int, body: str, *, page: int = 1, context: str = "", **columns: Any
) -> Chunk:
    """A chunk row of ``doc`` (id ``{doc.id}-{ordinal}``) holding ``body`` on ``page``; ``columns``
    override the rest (``id``, ``chunk_id``, character offsets, …)."""
    values: dict[str, Any] = {
        "chunk_id": f"{doc.id}-{ordinal}",
        "document_id": doc.id,
        "collection_id": doc.collection_id,
        "ordinal": ordinal,
        "page_start": page,
        "page_end": page,
        "char_start": 0,
        "char_end": len(body),
        "text": body,
        "context": context,
    }
    chunk = Chunk(**(values | columns))
    session.add(chunk)
    return chunk


def seed_catalog(url: str) -> tuple[sessionmaker[Session], str]:
    """A migrated catalog at ``url`` with two collections: "harbour" holds log.pdf (a chunk about
    storms and records on page 1, one about ferries on page 2), "other" holds menu.pdf (storm
    soup). Returns the session factory and log.pdf's document id."""
    run_migrations(url)
    factory = make_session_factory(make_engine(url))
    with factory.begin() as session:
        session.add_all([Collection(name="harbour"), Collection(name="other")])
        session.flush()
        harbour, other = session.scalars(select(Collection).order_by(Collection.id)).all()
        log = add_document(session, harbour.id, "log.pdf")
        add_chunk(session, log, 0, "The lighthouse keepers recorded storms nightly.", page=1)
        add_chunk(session, log, 1, "Ferries sailed at dawn.", page=2)
        menu = add_document(session, other.id, "menu.pdf")
        add_chunk(session, menu, 0, "Storm soup is served nightly in the canteen.", page=1)
        return factory, log.id


def ingest_stack(settings: Settings, embedder: Any, **retriever_options: Any) -> tuple[IngestPipeline, Retriever]:
    """A pipeline and a retriever over ``settings``' catalog and vector index (migrated, empty)."""
    _, factory = build_catalog(settings)
    index = VectorIndex.from_settings(settings, embedder_name=embedder.name, dimension=embedder.dimension)
    pipeline = IngestPipeline(settings=settings, session_factory=factory, embedder=embedder, vector_index=index)
    retriever = Retriever(
        session_factory=factory,
        embedder=embedder,
        vector_index=index,
        keyword_index=KeywordIndex(),
        **retriever_options,
    )
    return pipeline, retriever


def wait_for_jobs(client: Any, job_ids: list[str], timeout_s: float = 180) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout_s
    jobs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        jobs = [client.get(f"/api/jobs/{job_id}").json() for job_id in job_ids]
        if all(j["status"] in TERMINAL for j in jobs):
            return jobs
        time.sleep(0.1)
    raise AssertionError(f"jobs did not finish: {jobs}")


def upload(client: Any, *paths: Any, collection: str | None = None) -> list[dict[str, Any]]:
    files = [("files", (p.name, p.read_bytes())) for p in paths]
    data = {"collection": collection} if collection else {}
    response = client.post("/api/documents", files=files, data=data)
    assert response.status_code == 202, response.text
    jobs: list[dict[str, Any]] = response.json()["jobs"]
    return wait_for_jobs(client, [j["id"] for j in jobs])


def chat_parts(client: Any, body: dict[str, Any]) -> tuple[list[dict[str, Any]], bool, Any]:
    """POST /api/chat; returns (parts, saw_done, response headers)."""
    parts: list[dict[str, Any]] = []
    done = False
    with client.stream("POST", "/api/chat", json=body) as response:
        assert response.status_code == 200, response.read()
        for line in response.iter_lines():
            if not line.startswith("data: "):
                continue
            data = line.removeprefix("data: ")
            if data == "[DONE]":
                done = True
                continue
            parts.append(json.loads(data))
        headers = response.headers
    return parts, done, headers


def answer_text(parts: list[dict[str, Any]]) -> str:
    return "".join(p["delta"] for p in parts if p["type"] == "text-delta")
