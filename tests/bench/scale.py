"""Retrieval latency at 100k+ chunks: grow an ingested collection by copies of itself, then time
``POST /api/retrieve`` (hybrid, k=8) over HTTP against a real server.

    python -m tests.bench.scale DATA_DIR --collection eval-financebench --copies 1

Each copy clones every ready document of the collection under a new name (``copyN/<name>``), new
content hash and new chunk ids: catalog rows, keyword index (by the triggers), document terms and
vectors (read back from Chroma, not re-embedded). FinanceBench's 52.7k chunks with one copy give
105k. Questions are the FinanceBench dev questions; the figure is what a client sees (HTTP round
trip, embedding, both retrievers, fusion, document prior, hydration).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select, text

from api.eval import percentile
from tests.fixtures.server import docent_server

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("DOCENT_SHARED_DATA", REPO.parent / "shared" / "data"))
QUESTIONS = SHARED / "qa" / "financebench" / "financebench_open_source.dev.jsonl"


def grow(data_dir: Path, collection: str, copies: int) -> int:
    """Add ``copies`` clones of every ready document in ``collection``; returns the chunk count."""
    from ingest.chunking import chunk_id_for
    from ingest.db import build_catalog
    from ingest.embeddings import LocalOnnxEmbedder
    from ingest.index import VectorIndex
    from ingest.models import Chunk, Collection, Document, DocumentStatus
    from ingest.settings import Settings

    settings = Settings(data_dir=data_dir)
    _, factory = build_catalog(settings)
    embedder = LocalOnnxEmbedder()
    index = VectorIndex.from_settings(settings, embedder_name=embedder.name, dimension=embedder.dimension)
    with factory() as session:
        coll = session.scalars(select(Collection).where(Collection.name == collection)).one()
        docs = list(
            session.scalars(
                select(Document).where(
                    Document.collection_id == coll.id,
                    Document.status == DocumentStatus.ready.value,
                    Document.filename.not_like("copy%/%"),
                )
            )
        )
    chroma = index._collection(coll.id)
    for n in range(1, copies + 1):
        for doc in docs:
            name = f"copy{n}/{doc.filename}"
            sha = hashlib.sha256(f"{doc.sha256}:{name}".encode()).hexdigest()
            with factory.begin() as session:
                if session.scalars(select(Document.id).where(Document.sha256 == sha)).first():
                    continue
                chunks = list(session.scalars(select(Chunk).where(Chunk.document_id == doc.id)))
                old_ids = [c.chunk_id for c in chunks]
                got = chroma.get(ids=old_ids, include=["embeddings", "metadatas"])
                vectors = dict(zip(got["ids"], got["embeddings"], strict=True))
                clone = Document(
                    collection_id=coll.id,
                    filename=name,
                    sha256=sha,
                    content_type=doc.content_type,
                    size_bytes=doc.size_bytes,
                    stored_path=doc.stored_path,
                    status=DocumentStatus.ready.value,
                    pages=doc.pages,
                    pages_without_text=doc.pages_without_text,
                    page_spans=doc.page_spans,
                    chunk_count=doc.chunk_count,
                    term_count=doc.term_count,
                    embedder=doc.embedder,
                )
                session.add(clone)
                session.flush()
                new_ids = [chunk_id_for(sha, coll.id, c.ordinal) for c in chunks]
                index.upsert(
                    coll.id,
                    new_ids,
                    [list(vectors[c.chunk_id]) for c in chunks],
                    [{"document_id": clone.id, "collection_id": coll.id, "page": c.page_start} for c in chunks],
                )
                session.add_all(
                    Chunk(
                        chunk_id=new_id,
                        document_id=clone.id,
                        collection_id=coll.id,
                        ordinal=c.ordinal,
                        page_start=c.page_start,
                        page_end=c.page_end,
                        char_start=c.char_start,
                        char_end=c.char_end,
                        text=c.text,
                        section=c.section,
                        context=c.context,
                    )
                    for new_id, c in zip(new_ids, chunks, strict=True)
                )
                session.execute(
                    text(
                        "INSERT INTO document_terms (document_id, term, collection_id, tf) "
                        "SELECT :new, term, collection_id, tf FROM document_terms WHERE document_id = :old"
                    ),
                    {"new": clone.id, "old": doc.id},
                )
    with factory() as session:
        return int(session.execute(text("SELECT count(*) FROM chunks")).scalar_one())


def latency(data_dir: Path, rounds: int = 3) -> dict[str, Any]:
    """``POST /api/retrieve`` hybrid k=8 for every FinanceBench dev question, ``rounds`` times."""
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines() if line.strip()]
    with docent_server(data_dir) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        started = time.perf_counter()
        while not client.get("/api/health").json()["components"]["keyword_index"]["detail"].startswith("bm25"):
            if time.perf_counter() - started > 600:
                raise RuntimeError("the in-memory keyword index did not load within 600 s")
            time.sleep(0.2)
        load_s = time.perf_counter() - started  # from the server answering, after its start-up
        for q in questions[:10]:  # warm caches (HNSW pages, SQLite pages)
            client.post("/api/retrieve", json={"query": q, "k": 8})
        ms: list[float] = []
        server_ms: dict[str, list[float]] = {}
        for _ in range(rounds):
            for q in questions:
                started = time.perf_counter()
                response = client.post("/api/retrieve", json={"query": q, "k": 8, "mode": "hybrid"})
                ms.append((time.perf_counter() - started) * 1000)
                response.raise_for_status()
                for stage, value in response.json()["timings_ms"].items():
                    server_ms.setdefault(stage, []).append(value)

    return {
        "keyword_index_load_s": round(load_s, 1),
        "requests": len(ms),
        "http_ms_p50": round(percentile(ms, 0.5), 1),
        "http_ms_p95": round(percentile(ms, 0.95), 1),
        "http_ms_mean": round(statistics.fmean(ms), 1),
        "server_stage_ms_p50": {stage: round(percentile(v, 0.5), 1) for stage, v in server_ms.items()},
        "server_stage_ms_p95": {stage: round(percentile(v, 0.95), 1) for stage, v in server_ms.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--collection", default="eval-financebench")
    parser.add_argument("--copies", type=int, default=1)
    args = parser.parse_args()
    chunks = grow(args.data_dir, args.collection, args.copies)
    result = {"chunks": chunks, **latency(args.data_dir)}
    sys.stdout.write(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
