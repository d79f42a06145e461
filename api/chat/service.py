"""The chat use-case: conversation → standalone query → retrieval → prompt → stream → citations → persist.

``ChatService.answer`` is the grounded answer itself (no storage): the OpenAI-compatible route and
``docent eval squad --answers`` use it directly. ``ChatService.stream`` wraps it in the UI message
stream protocol and persists the assistant message in every outcome: ``complete``, ``failed``
(provider error, surfaced as an ``error`` part) or ``cancelled`` (the client went away: closing the
generator closes the provider's stream, which closes the upstream HTTP request).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.chat.citations import resolve_citations
from api.chat.prompt import NO_PASSAGES, build_request, is_refusal, standalone_query
from api.chat.providers import ChatProvider, Confidence, TextDelta, Usage
from api.errors import ConversationNotFound, DocentError
from api.models import Conversation, Message
from api.retrieval import Retriever
from api.schemas import (
    ChatRequest,
    Citation,
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
from ingest.models import Document, new_id, utcnow
from ingest.settings import Settings

__all__ = ["Answer", "ChatService", "Turn", "build_chat_service"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Turn:
    """An opened turn: its conversation, the assistant message being written, earlier turns."""

    conversation_id: str
    message_id: str
    history: list[tuple[str, str]]


@dataclass
class Answer:
    """What one answer accumulated while it streamed; complete once the stream has ended.

    ``timings`` are ms since the request started: ``rewrite``, ``retrieval`` (the retriever's own
    total), ``prompt_ready`` (server-added time before the model is called), ``ttft`` (first
    token), ``total``."""

    query: str = ""
    sources: list[Source] = field(default_factory=list)
    chunks: list[str] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    dropped: int = 0
    usage: dict[str, Any] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    best_similarity: float | None = None
    #: the provider's ``Confidence`` (None when it reports none, or was not called)
    confidence: float | None = None

    @property
    def text(self) -> str:
        return "".join(self.chunks)

    @property
    def refused(self) -> bool:
        return is_refusal(self.text)


class ChatService:
    """Collaborators are passed in; one instance serves every request.

    ``min_similarity``: when no retrieved passage reaches this cosine similarity to the query and
    none of them matches the query's terms (keyword search found none of them), the answer is a
    refusal and the provider is not called (``Settings.refusal_min_similarity``). Questions scoped
    to chosen documents always reach the provider ("summarise this document")."""

    def __init__(
        self,
        *,
        retriever: Retriever,
        provider: ChatProvider,
        session_factory: sessionmaker[Session],
        default_k: int = 8,
        min_similarity: float = 0.2,
    ) -> None:
        self.retriever = retriever
        self.provider = provider
        self.session_factory = session_factory
        self.default_k = default_k
        self.min_similarity = min_similarity

    async def standalone(self, question: str, history: list[tuple[str, str]]) -> str:
        """The retrieval query for ``question``: the provider's rewrite when there is history (the
        heuristic ``standalone_query`` if the provider fails or returns nothing)."""
        if not any(role == "user" for role, _ in history):
            return question
        try:
            rewritten = await self.provider.rewrite(question, history)
        except Exception as exc:  # the heuristic stands in for any failure: the answer still comes
            logger.warning(
                "follow-up rewrite failed (%s); using the heuristic", getattr(exc, "code", type(exc).__name__)
            )
            rewritten = ""
        return rewritten or standalone_query(question, [c for r, c in history if r == "user"])

    async def answer(
        self,
        question: str,
        history: list[tuple[str, str]],
        state: Answer,
        *,
        collection: str | None = None,
        document_ids: Sequence[str] | None = None,
        k: int | None = None,
        text_id: str = "text",
        started: float | None = None,
    ) -> AsyncGenerator[BaseModel, None]:
        """Retrieve, then stream the grounded answer as parts: ``data-sources``, ``text-start``,
        ``text-delta``…, ``text-end``, ``data-citations``. ``state`` fills in as it goes.
        ``started`` is the request's ``time.perf_counter()`` (timings count from it). Raises
        ``DocentError`` (e.g. ``ProviderError``, ``CollectionNotFound``)."""
        started = time.perf_counter() if started is None else started
        state.query = await self.standalone(question, history)
        if state.query != question:
            state.timings["rewrite"] = _ms(started)
        retrieval = await asyncio.to_thread(
            self.retriever.retrieve,
            state.query,
            k=k or self.default_k,
            collection=collection,
            document_ids=list(document_ids) if document_ids else None,
        )
        state.timings["retrieval"] = retrieval.timings_ms.get("total", 0.0)
        state.best_similarity = retrieval.best_similarity
        relevant = (
            bool(document_ids)
            or retrieval.best_similarity is None
            or retrieval.best_similarity >= self.min_similarity
            or bool(retrieval.keyword_matches)
        )
        state.sources = [
            Source(n=i, **r.model_dump(exclude={"rank"})) for i, r in enumerate(retrieval.results, start=1)
        ]
        yield SourcesPart(data=state.sources)
        yield TextStartPart(id=text_id)
        if state.sources and relevant:
            # retrieval used the standalone query; the answer addresses the message as asked
            generation = build_request(question, state.sources, history)
            state.timings["prompt_ready"] = _ms(started)
            async with aclosing(self.provider.stream(generation)) as events:  # closed at once if the client leaves
                async for event in events:
                    if isinstance(event, TextDelta):
                        if not state.chunks:
                            state.timings["ttft"] = _ms(started)
                        state.chunks.append(event.text)
                        yield TextDeltaPart(id=text_id, delta=event.text)
                    elif isinstance(event, Usage):
                        state.usage = {"input_tokens": event.input_tokens, "output_tokens": event.output_tokens}
                    elif isinstance(event, Confidence):
                        state.confidence = event.score
        else:
            state.timings["prompt_ready"] = state.timings["ttft"] = _ms(started)
            state.chunks.append(NO_PASSAGES)
            yield TextDeltaPart(id=text_id, delta=NO_PASSAGES)
        yield TextEndPart(id=text_id)
        page_spans = await asyncio.to_thread(self._page_spans, {s.document_id for s in state.sources})
        resolved = await asyncio.to_thread(
            resolve_citations, state.text, state.sources, self.retriever.embedder, page_spans
        )
        state.citations, state.dropped = resolved.citations, resolved.dropped
        if resolved.dropped:
            logger.info("dropped %d citation markers with no passage", resolved.dropped)
        yield CitationsPart(data=resolved.citations)
        state.timings["total"] = _ms(started)

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

    def _page_spans(self, document_ids: set[str]) -> dict[str, list[Any]]:
        """``Document.page_spans`` of each id (for page-level citation offsets)."""
        if not document_ids:
            return {}
        with self.session_factory() as session:
            rows = session.execute(select(Document.id, Document.page_spans).where(Document.id.in_(document_ids)))
            return {doc_id: spans for doc_id, spans in rows}

    def _persist(self, message_id: str, **fields: Any) -> None:
        with self.session_factory.begin() as session:
            message = session.get(Message, message_id)
            if message is None:  # the conversation was deleted while the answer streamed
                return
            for key, value in fields.items():
                setattr(message, key, value)

    async def stream(self, request: ChatRequest, turn: Turn) -> AsyncGenerator[BaseModel, None]:
        """The parts of one answer (``turn`` from ``open``), in protocol order; failures after the
        start become an ``error`` part whose text begins with the error's code."""
        started = time.perf_counter()
        conversation_id, message_id = turn.conversation_id, turn.message_id
        yield StartPart(
            messageId=message_id,
            messageMetadata={
                "conversationId": conversation_id,
                "provider": self.provider.name,
                "model": self.provider.model,
            },
        )
        yield StartStepPart()
        state = Answer()
        status, error = "cancelled", None
        parts = self.answer(
            request.message,
            turn.history,
            state,
            collection=request.collection,
            document_ids=request.document_ids,
            k=request.k,
            text_id=f"text-{message_id}",
            started=started,
        )
        try:
            async with aclosing(parts):
                async for part in parts:
                    yield part
            status = "complete"
            yield FinishStepPart()
            yield FinishPart(
                messageMetadata={
                    "conversationId": conversation_id,
                    "refused": state.refused,
                    "droppedMarkers": state.dropped,
                    "query": state.query,
                    "timingsMs": state.timings,
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
                content=state.text,
                status=status,
                error=error,
                sources=[s.model_dump() for s in state.sources],
                citations=[c.model_dump() for c in state.citations],
                usage=state.usage,
                timings_ms=state.timings,
            )


def build_chat_service(settings: Settings, retriever: Retriever, provider: ChatProvider) -> ChatService:
    """The chat service the settings describe (passages per answer, refusal gate), on the
    retriever's catalog."""
    return ChatService(
        retriever=retriever,
        provider=provider,
        session_factory=retriever.session_factory,
        default_k=settings.retrieve_k,
        min_similarity=settings.refusal_min_similarity,
    )


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
