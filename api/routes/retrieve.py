"""The retrieval endpoint, for code that wants passages rather than answers."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter

from api.deps import RetrieverDep
from api.schemas import RetrieveRequest, RetrieveResponse

router = APIRouter(prefix="/api", tags=["retrieval"])


@router.post("/retrieve", response_model=RetrieveResponse)
async def retrieve(body: RetrieveRequest, retriever: RetrieverDep) -> RetrieveResponse:
    """Top-k passages for `query`: `hybrid` (default: dense + BM25, scores normalised and combined 0.7/0.3),
    `dense` or `keyword`; optionally within one collection or a set of documents. A PDF page
    contributes at most one passage (its best chunk). Pages are 1-based; `char_start`/`char_end`
    locate the passage in its document's text."""
    result = await asyncio.to_thread(
        retriever.retrieve,
        body.query,
        k=body.k,
        mode=body.mode,
        collection=body.collection,
        document_ids=body.document_ids,
    )
    return RetrieveResponse(results=result.results, timings_ms=result.timings_ms)
