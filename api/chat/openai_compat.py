"""The OpenAI-compatible face of chat: ``POST /v1/chat/completions`` and ``GET /v1/models``.

Any OpenAI client can chat with the documents. The model names the scope: ``docent`` searches every
collection, ``docent:<collection>`` one collection. The last user message is the question; earlier
user and assistant messages are the conversation (for the follow-up rewrite and the prompt);
system messages are ignored, because docent's own grounding rules govern the answer. Nothing is
stored: OpenAI clients keep their own history.

Replies follow OpenAI's chat completion objects (API reference, "Chat Completions" and "The chat
completion chunk object") with two documented extra top-level fields: ``sources`` (the numbered
passages, ``api.schemas.Source``) and ``citations`` (each ``[n]`` resolved to document, page,
supporting span and verdict, ``api.schemas.Citation``), plus ``docent`` (``refused``, ``query``,
``timings_ms``). When streaming, ``sources`` ride on the first chunk and ``citations`` on the chunk
that carries ``finish_reason``; an error after the stream began arrives as a chunk
``{"error": {...}}``, which the openai SDK raises as ``APIError``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.chat.service import Answer, ChatService
from api.errors import CollectionNotFound, DocentError, InvalidRequest, ModelNotFound
from api.schemas import TextDeltaPart
from ingest.embeddings import EmbeddingError
from ingest.index import IndexError_
from ingest.models import Collection, as_utc, new_id

__all__ = [
    "MODEL_PREFIX",
    "Asked",
    "ChatCompletionRequest",
    "OpenAIMessage",
    "complete",
    "list_models",
    "read_request",
    "stream_chunks",
]

MODEL_PREFIX = "docent"

logger = logging.getLogger(__name__)


class OpenAIMessage(BaseModel):
    """A chat message as OpenAI clients send it: text content, or a list of content parts of
    which the ``text`` parts are read."""

    model_config = ConfigDict(extra="allow")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(str(part.get("text", "")) for part in self.content if part.get("type") == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    """The fields of OpenAI's request that docent reads; others (temperature, tools …) are
    accepted and ignored: the configured provider's settings apply."""

    model_config = ConfigDict(extra="allow")

    model: str = MODEL_PREFIX
    messages: list[OpenAIMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: dict[str, Any] | None = None


def collection_of(service: ChatService, model: str) -> str | None:
    """The collection a model name scopes to (None: all). Raises ``ModelNotFound``."""
    if model == MODEL_PREFIX:
        return None
    prefix = f"{MODEL_PREFIX}:"
    unknown = ModelNotFound(f"no model {model!r}: use {MODEL_PREFIX!r} or '{prefix}<collection>' (GET /v1/models)")
    name = model.removeprefix(prefix)
    if not model.startswith(prefix) or not name:
        raise unknown
    with service.session_factory() as session:
        try:
            service.retriever.collection_id(session, name)
        except CollectionNotFound as exc:
            raise unknown from exc
    return name


def list_models(service: ChatService) -> dict[str, Any]:
    """OpenAI's model list: ``docent`` and one ``docent:<collection>`` per collection."""
    with service.session_factory() as session:
        rows = session.execute(select(Collection.name, Collection.created_at).order_by(Collection.name)).all()
    created = {name: int(as_utc(when).timestamp()) for name, when in rows}
    first = min(created.values(), default=0)
    models = [{"id": MODEL_PREFIX, "object": "model", "created": first, "owned_by": "docent"}]
    models += [
        {"id": f"{MODEL_PREFIX}:{name}", "object": "model", "created": when, "owned_by": "docent"}
        for name, when in created.items()
    ]
    return {"object": "list", "data": models}


@dataclass(frozen=True)
class Asked:
    """A request read: the collection its model scopes to, the question, the earlier turns."""

    collection: str | None
    question: str
    history: list[tuple[str, str]]


def read_request(service: ChatService, request: ChatCompletionRequest) -> Asked:
    """Raises ``ModelNotFound`` for an unknown model and ``InvalidRequest`` when the last message
    is not a non-empty user message."""
    collection = collection_of(service, request.model)
    turns: list[tuple[str, str]] = [(m.role, m.text()) for m in request.messages if m.role in ("user", "assistant")]
    if not turns or turns[-1][0] != "user" or not turns[-1][1].strip():
        raise InvalidRequest("the last message must be a non-empty user message")
    history = [(role, content) for role, content in turns[:-1] if content.strip()]
    return Asked(collection, turns[-1][1], history)


def _extras(state: Answer) -> dict[str, Any]:
    return {
        "citations": [c.model_dump() for c in state.citations],
        "docent": {"refused": state.refused, "query": state.query, "timings_ms": state.timings},
    }


def _usage(state: Answer) -> dict[str, int] | None:
    prompt, completion = state.usage.get("input_tokens"), state.usage.get("output_tokens")
    if prompt is None or completion is None:
        return None  # the extractive provider counts no tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


async def complete(service: ChatService, request: ChatCompletionRequest, asked: Asked) -> dict[str, Any]:
    """A whole ``chat.completion`` for ``asked`` (from ``read_request``). Raises ``DocentError``
    (``ProviderError``, ``CollectionNotFound`` …)."""
    state = Answer()
    parts = service.answer(asked.question, asked.history, state, collection=asked.collection)
    async with aclosing(parts):
        async for _ in parts:
            pass
    return {
        "id": f"chatcmpl-{new_id()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": state.text}, "finish_reason": "stop"}],
        "usage": _usage(state),
        "sources": [s.model_dump() for s in state.sources],
        **_extras(state),
    }


async def stream_chunks(
    service: ChatService, request: ChatCompletionRequest, asked: Asked
) -> AsyncGenerator[dict[str, Any], None]:
    """``chat.completion.chunk`` objects for ``asked`` (from ``read_request``, which fails before
    any byte is sent), then (with ``stream_options.include_usage``) the usage chunk. A failure once
    streaming becomes a final ``{"error": ...}`` chunk."""
    base = {
        "id": f"chatcmpl-{new_id()}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": request.model,
    }

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
        return base | {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]} | extra

    state = Answer()
    try:
        first = True
        parts = service.answer(asked.question, asked.history, state, collection=asked.collection)
        async with aclosing(parts):  # leaving early closes the chain down to the provider's request
            async for part in parts:
                if first:
                    first = False
                    yield chunk({"role": "assistant", "content": ""}, sources=[s.model_dump() for s in state.sources])
                if isinstance(part, TextDeltaPart):
                    yield chunk({"content": part.delta})
    except DocentError as exc:
        yield {"error": {"message": exc.detail, "type": "api_error", "code": exc.code}}
        return
    except Exception as exc:  # a store failing mid-stream still ends the stream with an error chunk
        code = "unavailable" if isinstance(exc, IndexError_ | EmbeddingError) else "internal_error"
        logger.exception("chat completion failed mid-stream")
        yield {"error": {"message": f"{code}: {type(exc).__name__}", "type": "api_error", "code": code}}
        return
    yield chunk({}, "stop", **_extras(state))
    if request.stream_options and request.stream_options.get("include_usage"):
        yield base | {"choices": [], "usage": _usage(state)}
