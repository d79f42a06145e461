"""The chat use-case: conversation → standalone query → retrieval → prompt → stream → citations → persist.

Yields the stream's parts as typed models (``api.schemas``); the route serialises them once. The
service opens its own DB sessions (never the request's) and persists the assistant message in
every outcome: ``complete``, ``failed`` (provider error, surfaced as an ``error`` part) or
``cancelled`` (the client went away: closing this generator closes the provider's stream, which
closes the upstream HTTP request).
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.chat.citations import resolve_citations
from api.chat.prompt import REFUSAL, build_request
from api.chat.providers import ChatProvider, TextDelta, Usage
from api.errors import ConversationNotFound, DocentError
from api.models import Conversation, Message
from api.retrieval import Retriever
from api.schemas import (
    ChatRequest,
    CitationsPart,
    ErrorPart,
    FinishPart,
    FinishStepPart,
    Source,
    SourcesPart,
    StartPart,
    StartStepPart,
    TextDeltaPart,
    TextEndPart,
    TextStartPart,
)
from ingest.models import new_id, utcnow

__all__ = ["ChatService", "Turn", "standalone_query"]

logger = logging.getLogger(__name__)

NO_PASSAGES = "I could not find anything about that in your documents."
_ANAPHORA = re.compile(
    r"\b(it|its|that|this|those|these|they|them|their|he|she|his|her|there|same|above|previous)\b", re.I
)
_WORD = re.compile(r"\w+")


@dataclass(frozen=True)
class Turn:
    """An opened turn: its conversation, the assistant message being written, earlier turns."""

    conversation_id: str
    message_id: str
    history: list[tuple[str, str]]


def standalone_query(message: str, previous_questions: list[str]) -> str:
    """Heuristic follow-up rewrite (no LLM): a short question (≤ 6 words) or one that points back
    ("it", "they", "that" …) is prefixed with the previous user question, so retrieval sees the
    topic; anything else is used as is."""
    if not previous_questions:
        return message
    if len(_WORD.findall(message)) <= 6 or _ANAPHORA.search(message):
        return f"{previous_questions[-1]} {message}"
    return message


class ChatService:
    """Collaborators are passed in; one instance serves every request."""

    def __init__(
        self,
        *,
        retriever: Retriever,
        provider: ChatProvider,
        session_factory: sessionmaker[Session],
        default_k: int = 8,
    ) -> None:
        self.retriever = retriever
        self.provider = provider
        self.session_factory = session_factory
        self.default_k = default_k

    async def open(self, request: ChatRequest) -> Turn:
        """Start a turn before any byte is streamed, so an unknown conversation is a plain 404.
        Raises ``ConversationNotFound``."""
        return await asyncio.to_thread(self._open, request)

    def _open(self, request: ChatRequest) -> Turn:
        """Load or create the conversation, store the user message and a streaming assistant
        message."""
        with self.session_factory.begin() as session:
            if request.conversation_id:
                conversation = session.get(Conversation, request.conversation_id)
                if conversation is None:
                    raise ConversationNotFound(f"no conversation {request.conversation_id}")
            else:
                title = request.message.strip().splitlines()[0][:120]
                conversation = Conversation(title=title, collection=request.collection)
                session.add(conversation)
                session.flush()
            history = [
                (m.role, m.content)
                for m in session.scalars(
                    select(Message)
                    .where(Message.conversation_id == conversation.id, Message.status == "complete")
                    .order_by(Message.created_at)
                )
            ]
            session.add(Message(conversation_id=conversation.id, role="user", content=request.message))
            session.flush()  # the user row's created_at precedes the assistant's
            assistant = Message(
                id=new_id(),
                conversation_id=conversation.id,
                role="assistant",
                status="streaming",
                provider=self.provider.name,
                model=self.provider.model,
                created_at=utcnow(),
            )
            session.add(assistant)
            conversation.updated_at = utcnow()
            return Turn(conversation.id, assistant.id, history)

    def _persist(self, message_id: str, **fields: Any) -> None:
        with self.session_factory.begin() as session:
            message = session.get(Message, message_id)
            if message is None:  # the conversation was deleted while the answer streamed
                return
            for key, value in fields.items():
                setattr(message, key, value)

    async def stream(self, request: ChatRequest, turn: Turn) -> AsyncIterator[BaseModel]:
        """The parts of one answer (``turn`` from ``open``), in protocol order; failures after the
        start become an ``error`` part."""
        started = time.perf_counter()
        conversation_id, message_id, history = turn.conversation_id, turn.message_id, turn.history
        yield StartPart(
            messageId=message_id,
            messageMetadata={
                "conversationId": conversation_id,
                "provider": self.provider.name,
                "model": self.provider.model,
            },
        )
        yield StartStepPart()
        answer: list[str] = []
        status, error = "cancelled", None
        sources: list[Source] = []
        citations_json: list[dict[str, Any]] = []
        usage: dict[str, Any] = {}
        timings: dict[str, Any] = {}
        text_id = f"text-{message_id}"
        try:
            query = standalone_query(request.message, [c for r, c in history if r == "user"])
            retrieval = await asyncio.to_thread(
                self.retriever.retrieve,
                query,
                k=request.k or self.default_k,
                collection=request.collection,
                document_ids=request.document_ids,
            )
            timings["retrieval"] = retrieval.timings_ms.get("total", 0.0)
            sources = [Source(n=i, **r.model_dump(exclude={"rank"})) for i, r in enumerate(retrieval.results, start=1)]
            yield SourcesPart(data=sources)
            yield TextStartPart(id=text_id)
            if sources:
                # retrieval used the standalone query; the answer addresses the message as asked
                generation = build_request(request.message, sources, history)
                timings["prompt_ready"] = _ms(started)
                async for event in self.provider.stream(generation):
                    if isinstance(event, TextDelta):
                        if not answer:
                            timings["ttft"] = _ms(started)
                        answer.append(event.text)
                        yield TextDeltaPart(id=text_id, delta=event.text)
                    elif isinstance(event, Usage):
                        usage = {"input_tokens": event.input_tokens, "output_tokens": event.output_tokens}
            else:
                timings["ttft"] = _ms(started)
                answer.append(NO_PASSAGES)
                yield TextDeltaPart(id=text_id, delta=NO_PASSAGES)
            yield TextEndPart(id=text_id)
            resolved = resolve_citations("".join(answer), sources)
            citations_json = [c.model_dump() for c in resolved.citations]
            if resolved.dropped:
                logger.info("dropped %d citation markers with no passage message_id=%s", resolved.dropped, message_id)
            yield CitationsPart(data=resolved.citations)
            timings["total"] = _ms(started)
            status = "complete"
            yield FinishStepPart()
            yield FinishPart(
                messageMetadata={
                    "conversationId": conversation_id,
                    "refused": "".join(answer).strip() in (REFUSAL, NO_PASSAGES),
                    "droppedMarkers": resolved.dropped,
                    "timingsMs": timings,
                }
            )
        except DocentError as exc:
            status, error = "failed", f"{exc.code}: {exc.detail}"
            logger.warning("chat failed message_id=%s: %s", message_id, error)
            yield ErrorPart(errorText=error)
        except Exception as exc:  # an index or database failure mid-stream still ends the stream cleanly
            status, error = "failed", f"internal_error: {type(exc).__name__}"
            logger.exception("chat failed message_id=%s", message_id)
            yield ErrorPart(errorText=error)
        finally:
            self._persist(
                message_id,
                content="".join(answer),
                status=status,
                error=error,
                sources=[s.model_dump() for s in sources],
                citations=citations_json,
                usage=usage,
                timings_ms=timings,
            )


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
