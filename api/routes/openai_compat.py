"""OpenAI-compatible chat (``/v1``): any OpenAI client can ask the documents (see
``api.chat.openai_compat`` for the model names and the extra fields)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

from fastapi import APIRouter
from sse_starlette import EventSourceResponse

from api.chat.openai_compat import ChatCompletionRequest, complete, list_models, read_request, stream_chunks
from api.deps import ChatDep
from api.routes import SSE_HEADERS

router = APIRouter(prefix="/v1", tags=["openai-compatible"])


@router.get("/models")
async def models(service: ChatDep) -> dict[str, Any]:
    """`docent` (every collection) and `docent:<collection>` for each collection."""
    return await asyncio.to_thread(list_models, service)


@router.post("/chat/completions", response_model=None)
async def chat_completions(body: ChatCompletionRequest, service: ChatDep) -> dict[str, Any] | EventSourceResponse:
    """A grounded, cited answer to the last user message, as OpenAI's chat completion (or, with
    `stream: true`, its chunks over SSE ending in `[DONE]`). Extra fields: `sources`, `citations`,
    `docent`. Nothing is stored; closing the connection cancels the upstream LLM request."""
    asked = await asyncio.to_thread(read_request, service, body)  # unknown model, empty question: a status
    if not body.stream:
        return await complete(service, body, asked)

    async def events() -> AsyncIterator[dict[str, str]]:
        chunks = stream_chunks(service, body, asked)
        async with aclosing(chunks):
            async for chunk in chunks:
                yield {"data": json.dumps(chunk, separators=(",", ":"))}
        yield {"data": "[DONE]"}

    return EventSourceResponse(events(), headers=SSE_HEADERS)
