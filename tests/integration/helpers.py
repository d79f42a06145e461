"""Helpers for integration tests: an ingest pipeline on real stores, wait for jobs, read an SSE
chat stream into parts."""

from __future__ import annotations

import json
import time
from typing import Any

from api.retrieval import Retriever
from ingest.db import build_catalog
from ingest.index import KeywordIndex, VectorIndex
from ingest.models import JobStatus
from ingest.pipeline import IngestPipeline
from ingest.settings import Settings

TERMINAL = frozenset(s.value for s in JobStatus if s.terminal)


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
