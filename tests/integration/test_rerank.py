"""The reranking stage: a Cohere-style /rerank server reorders the fused candidates; a failing
reranker leaves the fused order."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.rerank import HttpReranker
from api.retrieval import Retriever
from ingest.index import KeywordIndex
from ingest.settings import Settings
from tests.fixtures.pdfgen import make_pdf
from tests.fixtures.server import ThreadedServer
from tests.integration.helpers import ingest_stack

PAGES = [
    "The harbour board met on Monday. Dredging of the north channel was discussed at length.",
    "The north channel will be dredged to a depth of 14 metres, the board decided.",
    "Pilots reported fog in the north channel on eleven mornings in March.",
]


@pytest.fixture(scope="module")
def rerank_server() -> Iterator[dict[str, Any]]:
    """Scores each document by how many times it contains the word 'fog' (a stand-in model)."""
    state: dict[str, Any] = {"requests": [], "fail": False}

    async def rerank(request: Request) -> JSONResponse:
        body = await request.json()
        state["requests"].append(body)
        if state["fail"]:
            return JSONResponse({"error": "overloaded"}, status_code=503)
        scores = [doc.lower().count("fog") + 0.001 * i for i, doc in enumerate(body["documents"])]
        results = [{"index": i, "relevance_score": s} for i, s in enumerate(scores)]
        return JSONResponse({"results": results})

    with ThreadedServer(Starlette(routes=[Route("/rerank", rerank, methods=["POST"])])) as server:
        state["url"] = server.url
        yield state


def _retriever(settings: Settings, embedder: Any, tmp_path: Path, reranker: Any) -> Retriever:
    pipeline, retriever = ingest_stack(settings, embedder, reranker=reranker, rerank_candidates=10)
    pdf = make_pdf(tmp_path / "board.pdf", PAGES)
    assert pipeline.run(pipeline.register(pdf, pdf.name).id).status == "done"
    return retriever


def test_http_reranker_reorders_and_failures_fall_back(
    settings: Settings, embedder: Any, tmp_path: Path, rerank_server: dict[str, Any]
) -> None:
    client = httpx.Client(base_url=rerank_server["url"], timeout=5)
    retriever = _retriever(settings, embedder, tmp_path, HttpReranker(client, model="fake-rerank"))
    fused = Retriever(
        session_factory=retriever.session_factory,
        embedder=embedder,
        vector_index=retriever.vector_index,
        keyword_index=KeywordIndex(),
    )
    query = "what was decided about the north channel depth"
    reranked = retriever.retrieve(query, k=2)
    assert reranked.results[0].page_start == 3 and "fog" in reranked.results[0].text  # the reranker's pick
    assert [r.rank for r in reranked.results] == [1, 2] and "rerank" in reranked.timings_ms
    sent = rerank_server["requests"][-1]
    assert sent["model"] == "fake-rerank" and sent["query"] == query and len(sent["documents"]) == 3
    rerank_server["fail"] = True
    try:
        fallback = retriever.retrieve(query, k=2)
    finally:
        rerank_server["fail"] = False
    assert [r.chunk_id for r in fallback.results] == [r.chunk_id for r in fused.retrieve(query, k=2).results]
