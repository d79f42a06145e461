"""The catalog: collections, documents, their chunks and ingest jobs (SQLAlchemy 2, typed ORM).

Every table hangs off one declarative ``Base`` that Alembic targets; ``api.models`` adds the
conversation tables to the same metadata. Chunk text lives here as the source of truth for what is
shown and cited; the keyword index (SQLite FTS5 / PostgreSQL tsvector) is derived from it by the
database itself, in the same transaction (see ``migrations/``).
"""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "Base",
    "Chunk",
    "Collection",
    "Document",
    "DocumentStatus",
    "DocumentTerm",
    "IngestJob",
    "JobStatus",
    "as_utc",
    "new_id",
    "utcnow",
]


def utcnow() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def as_utc(when: datetime) -> datetime:
    """``when`` timezone-aware: SQLite hands stored datetimes back naive, and they were stored UTC."""
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def new_id() -> str:
    """A fresh 32-hex-digit identifier."""
    return uuid.uuid4().hex


class Base(DeclarativeBase):
    """The one declarative base of docent's schema."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


class DocumentStatus(enum.StrEnum):
    pending = "pending"
    ready = "ready"
    failed = "failed"


class JobStatus(enum.StrEnum):
    queued = "queued"
    parsing = "parsing"
    chunking = "chunking"
    embedding = "embedding"
    indexing = "indexing"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"
    duplicate = "duplicate"

    @property
    def terminal(self) -> bool:
        return self in (JobStatus.done, JobStatus.failed, JobStatus.cancelled, JobStatus.duplicate)


class Collection(Base):
    """A named set of documents searched together."""

    __tablename__ = "collections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Document(Base):
    """One ingested file. ``page_spans[i]`` is ``[start, end)`` of page i+1 in the document's text."""

    __tablename__ = "documents"
    __table_args__ = (UniqueConstraint("collection_id", "sha256", name="uq_documents_collection_sha256"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(512))
    sha256: Mapped[str] = mapped_column(String(64), index=True)
    content_type: Mapped[str] = mapped_column(String(100))
    size_bytes: Mapped[int] = mapped_column(Integer)
    stored_path: Mapped[str] = mapped_column(String(1024))
    status: Mapped[str] = mapped_column(String(20), default=DocumentStatus.pending.value, index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    pages: Mapped[int | None] = mapped_column(Integer, default=None)
    pages_without_text: Mapped[int] = mapped_column(Integer, default=0)
    page_spans: Mapped[list[Any]] = mapped_column(JSON, default=list)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    #: number of terms in the document-level keyword index (its BM25 length); 0 until indexed
    term_count: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    embedder: Mapped[str | None] = mapped_column(String(200), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    collection: Mapped[Collection] = relationship(lazy="joined")
    chunks: Mapped[list[Chunk]] = relationship(
        back_populates="document", cascade="all, delete-orphan", passive_deletes=True
    )


class Chunk(Base):
    """A passage of a document: its text, its pages and its ``[char_start, char_end)`` in the document.

    ``chunk_id`` is deterministic (document hash, collection, chunker version, ordinal), so a rerun
    writes the same ids and never duplicates a vector. ``id`` is the integer rowid the keyword index
    points at.
    """

    __tablename__ = "chunks"
    __table_args__ = (
        Index("ix_chunks_document_ordinal", "document_id", "ordinal", unique=True),
        {"sqlite_autoincrement": True},  # ids only grow: the in-memory keyword index reads the newest
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chunk_id: Mapped[str] = mapped_column(String(64), unique=True)
    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"))
    collection_id: Mapped[int] = mapped_column(Integer, index=True)
    ordinal: Mapped[int] = mapped_column(Integer)
    page_start: Mapped[int] = mapped_column(Integer)
    page_end: Mapped[int] = mapped_column(Integer)
    char_start: Mapped[int] = mapped_column(Integer)
    char_end: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    #: headings in force where the chunk starts (``"Results > Revenue"``), "" where unknown
    section: Mapped[str] = mapped_column(Text, default="", server_default="")
    #: what is embedded and keyword-indexed with the text: file name, title and section
    context: Mapped[str] = mapped_column(Text, default="", server_default="")

    document: Mapped[Document] = relationship(back_populates="chunks")


class DocumentTerm(Base):
    """One row of the document-level keyword index: how often a stemmed ``term`` occurs in a
    document (its text and context). Written in the transaction that makes the document ready."""

    __tablename__ = "document_terms"
    __table_args__ = (Index("ix_document_terms_term", "term", "collection_id"),)

    document_id: Mapped[str] = mapped_column(ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True)
    term: Mapped[str] = mapped_column(String(64), primary_key=True)
    collection_id: Mapped[int] = mapped_column(Integer)
    tf: Mapped[int] = mapped_column(Integer)


class IngestJob(Base):
    """The life of one file through the pipeline: queued → parsing → … → done | failed | duplicate."""

    __tablename__ = "ingest_jobs"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    document_id: Mapped[str | None] = mapped_column(
        ForeignKey("documents.id", ondelete="SET NULL"), default=None, index=True
    )
    collection_id: Mapped[int] = mapped_column(ForeignKey("collections.id", ondelete="CASCADE"))
    filename: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(20), default=JobStatus.queued.value, index=True)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    error_code: Mapped[str | None] = mapped_column(String(50), default=None)
    pages_total: Mapped[int | None] = mapped_column(Integer, default=None)
    pages_done: Mapped[int] = mapped_column(Integer, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    chunks_embedded: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)

    collection: Mapped[Collection] = relationship(lazy="joined")
