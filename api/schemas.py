"""Request and response bodies, and the chat stream's parts (AI SDK UI message stream, v1)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# -- documents and jobs -------------------------------------------------------------------------

JobStatusName = Literal[
    "queued", "parsing", "chunking", "embedding", "indexing", "done", "failed", "cancelled", "duplicate"
]


class JobPublic(BaseModel):
    """One file's ingestion. ``duplicate`` jobs point at the document that already holds the content."""

    id: str
    document_id: str | None
    filename: str
    collection: str
    status: JobStatusName
    error: str | None = None
    error_code: str | None = None
    pages_total: int | None = None
    pages_done: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    #: estimated seconds to finish (running jobs, once there is progress to extrapolate from)
    eta_s: float | None = None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None


class UploadResponse(BaseModel):
    jobs: list[JobPublic]


class DocumentPublic(BaseModel):
    id: str
    filename: str
    collection: str
    sha256: str
    content_type: str
    size_bytes: int
    pages: int | None
    pages_without_text: int
    chunks: int
    status: Literal["pending", "ready", "failed"]
    error: str | None
    created_at: datetime


class DocumentList(BaseModel):
    documents: list[DocumentPublic]


# -- retrieval ----------------------------------------------------------------------------------

RetrievalMode = Literal["hybrid", "dense", "keyword"]


class RetrieveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=8, ge=1, le=50)
    collection: str | None = None
    document_ids: list[str] | None = Field(default=None, max_length=500)
    mode: RetrievalMode = "hybrid"


class RetrievedChunk(BaseModel):
    """A retrieved passage: pages are 1-based; ``[char_start, char_end)`` in the document's text."""

    chunk_id: str
    document_id: str
    filename: str
    page_start: int
    page_end: int
    char_start: int
    char_end: int
    #: headings in force where the passage starts (HTML, DOCX, Markdown), "" where unknown
    section: str = ""
    text: str
    score: float
    rank: int


class RetrieveResponse(BaseModel):
    results: list[RetrievedChunk]
    timings_ms: dict[str, float]


# -- chat ---------------------------------------------------------------------------------------


class ChatRequest(BaseModel):
    message: str = Field(min_length=1, max_length=8000)
    conversation_id: str | None = None
    collection: str | None = None
    document_ids: list[str] | None = Field(default=None, max_length=500)
    k: int | None = Field(default=None, ge=1, le=50)


class Source(BaseModel):
    """A numbered passage given to the model; ``n`` is what ``[n]`` in the answer refers to."""

    n: int
    chunk_id: str
    document_id: str
    filename: str
    page_start: int
    page_end: int
    char_start: int
    char_end: int
    text: str
    score: float


class Citation(BaseModel):
    """A resolved ``[n]``: the passage, the page the supporting span lies on, the span itself as
    ``[span_start, span_end)`` in ``Source.text`` and as ``[page_char_start, page_char_end)`` in
    that page's extracted text (None when the page layout is unknown), with a verdict."""

    n: int
    chunk_id: str
    document_id: str
    filename: str
    page: int
    page_char_start: int | None = None
    page_char_end: int | None = None
    span_start: int
    span_end: int
    quote: str
    #: The support score behind the verdict, in [0, 1] (``api.chat.citations``).
    support: float = 0.0
    verdict: Literal["supported", "weak"]
    claim: str


class StartPart(BaseModel):
    type: Literal["start"] = "start"
    messageId: str
    messageMetadata: dict[str, Any] | None = None


class StartStepPart(BaseModel):
    type: Literal["start-step"] = "start-step"


class FinishStepPart(BaseModel):
    type: Literal["finish-step"] = "finish-step"


class FinishPart(BaseModel):
    type: Literal["finish"] = "finish"
    messageMetadata: dict[str, Any] | None = None


class TextStartPart(BaseModel):
    type: Literal["text-start"] = "text-start"
    id: str


class TextDeltaPart(BaseModel):
    type: Literal["text-delta"] = "text-delta"
    id: str
    delta: str


class TextEndPart(BaseModel):
    type: Literal["text-end"] = "text-end"
    id: str


class SourcesPart(BaseModel):
    type: Literal["data-sources"] = "data-sources"
    data: list[Source]


class CitationsPart(BaseModel):
    type: Literal["data-citations"] = "data-citations"
    data: list[Citation]


class ErrorPart(BaseModel):
    type: Literal["error"] = "error"
    errorText: str


StreamPart = Annotated[
    StartPart
    | StartStepPart
    | SourcesPart
    | TextStartPart
    | TextDeltaPart
    | TextEndPart
    | CitationsPart
    | FinishStepPart
    | FinishPart
    | ErrorPart,
    Field(discriminator="type"),
]


# -- conversations ------------------------------------------------------------------------------


class ConversationSummary(BaseModel):
    id: str
    title: str
    created_at: datetime
    updated_at: datetime


class ConversationList(BaseModel):
    conversations: list[ConversationSummary]


class MessagePublic(BaseModel):
    id: str
    role: Literal["user", "assistant"]
    content: str
    status: str
    sources: list[Source]
    citations: list[Citation]
    provider: str | None
    model: str | None
    usage: dict[str, Any]
    timings_ms: dict[str, Any]
    error: str | None
    created_at: datetime


class ConversationPublic(ConversationSummary):
    messages: list[MessagePublic]


# -- health -------------------------------------------------------------------------------------


class ComponentHealth(BaseModel):
    ok: bool
    detail: str


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"]
    components: dict[str, ComponentHealth]
