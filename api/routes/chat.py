"""Grounded chat over SSE, in the Vercel AI SDK UI message stream protocol (v1)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing

from fastapi import APIRouter, Request
from sse_starlette import EventSourceResponse

from api.deps import ChatDep
from api.routes import SSE_HEADERS
from api.schemas import ChatRequest

router = APIRouter(prefix="/api", tags=["chat"])

STREAM_HEADERS = {**SSE_HEADERS, "x-vercel-ai-ui-message-stream": "v1"}


@router.post("/chat", response_class=EventSourceResponse)
async def chat(body: ChatRequest, request: Request, service: ChatDep) -> EventSourceResponse:
    """Ask a question; the answer streams as SSE: `start` (conversation id in `messageMetadata`),
    `data-sources` (the numbered passages, before the first token), `text-start` / `text-delta` /
    `text-end`, `data-citations` (each `[n]` resolved to document, page and supporting span, with a
    verdict), `finish`, then `[DONE]`. Failures after the start arrive as an `error` part. Closing
    the connection cancels the upstream LLM request."""
    turn = await service.open(body)

    async def events() -> AsyncIterator[dict[str, str]]:
        parts = service.stream(body, turn)
        async with aclosing(parts):  # leaving early closes the chain down to the provider's request
            async for part in parts:
                yield {"data": part.model_dump_json(exclude_none=True)}
                if await request.is_disconnected():
                    return
        yield {"data": "[DONE]"}

    return EventSourceResponse(events(), headers=STREAM_HEADERS, ping=15)
