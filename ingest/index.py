"""The indexes: vectors in Chroma, keywords in the catalog's own full-text index.

``VectorIndex`` wraps one Chroma collection (cosine space, ``ef_search`` raised at creation), in
embedded mode (``PersistentClient``) or against a server (``HttpClient``). Embeddings are always
passed in (no Chroma embedding function); the collection records the embedder's name and refuses
another. ``KeywordIndex`` ranks chunks by BM25 over SQLite FTS5 (porter stemmer) or PostgreSQL
``tsvector``: both live in the catalog and are written by the database in the chunk rows'
transaction, so they are shared by every worker and never disagree with the catalog.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlparse

from sqlalchemy import text
from sqlalchemy.orm import Session

from ingest.settings import Settings

__all__ = ["EmbedderMismatch", "IndexError_", "KeywordHit", "KeywordIndex", "VectorHit", "VectorIndex"]

logger = logging.getLogger(__name__)


class IndexError_(RuntimeError):
    """The vector store failed or is unreachable."""


class EmbedderMismatch(IndexError_):
    """The index was built by a different embedder than the one configured."""


@dataclass(frozen=True)
class VectorHit:
    chunk_id: str
    similarity: float


@dataclass(frozen=True)
class KeywordHit:
    chunk_id: str
    score: float


class VectorIndex:
    """Chunk vectors in one Chroma collection; metadata ``document_id`` and ``collection_id``."""

    def __init__(
        self, client: Any, *, collection_name: str, embedder_name: str, dimension: int, ef_search: int
    ) -> None:
        self._client = client
        self.embedder_name = embedder_name
        self._collection = client.get_or_create_collection(
            name=collection_name,
            configuration={"hnsw": {"space": "cosine", "ef_search": ef_search, "ef_construction": 200}},
            metadata={"embedder": embedder_name, "dimension": dimension},
            embedding_function=None,
        )
        stored = (self._collection.metadata or {}).get("embedder")
        if stored and stored != embedder_name:
            raise EmbedderMismatch(
                f"the index at {collection_name!r} was built with embedder {stored!r}, not {embedder_name!r}; "
                "use the same DOCENT_EMBEDDING_PROVIDER or a fresh DOCENT_DATA_DIR"
            )

    @classmethod
    def from_settings(cls, settings: Settings, *, embedder_name: str, dimension: int) -> VectorIndex:
        """Embedded Chroma at ``data_dir/chroma`` or, with ``chroma_url`` set, a Chroma server."""
        import chromadb
        from chromadb.config import Settings as ChromaSettings

        telemetry = ChromaSettings(anonymized_telemetry=False)
        if settings.chroma_url:
            url = urlparse(settings.chroma_url)
            client = chromadb.HttpClient(
                host=url.hostname or "127.0.0.1", port=url.port or 8000, ssl=url.scheme == "https", settings=telemetry
            )
        else:
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=telemetry)
        return cls(
            client,
            collection_name=settings.chroma_collection,
            embedder_name=embedder_name,
            dimension=dimension,
            ef_search=settings.hnsw_ef_search,
        )

    def upsert(
        self, ids: Sequence[str], embeddings: Sequence[Sequence[float]], metadatas: Sequence[dict[str, Any]]
    ) -> None:
        """Write vectors (idempotent by id), in batches the client accepts."""
        step = max(1, min(4000, int(self._client.get_max_batch_size())))
        for begin in range(0, len(ids), step):
            end = begin + step
            self._collection.upsert(
                ids=list(ids[begin:end]),
                embeddings=[list(e) for e in embeddings[begin:end]],
                metadatas=list(metadatas[begin:end]),
            )

    def query(
        self,
        embedding: Sequence[float],
        k: int,
        *,
        collection_id: int | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> list[VectorHit]:
        """The ``k`` nearest chunks, most similar first; similarity = 1 - cosine distance."""
        clauses: list[dict[str, Any]] = []
        if collection_id is not None:
            clauses.append({"collection_id": collection_id})
        if document_ids:
            clauses.append({"document_id": {"$in": list(document_ids)}})
        where: dict[str, Any] | None = None
        if len(clauses) == 1:
            where = clauses[0]
        elif clauses:
            where = {"$and": clauses}
        result = self._collection.query(
            query_embeddings=[list(embedding)], n_results=k, where=where, include=["distances"]
        )
        ids = result["ids"][0]
        distances = (result.get("distances") or [[]])[0]
        return [VectorHit(chunk_id=i, similarity=1.0 - float(d)) for i, d in zip(ids, distances, strict=True)]

    def delete_document(self, document_id: str) -> None:
        """Remove every vector of ``document_id`` (no-op when there are none)."""
        self._collection.delete(where={"document_id": document_id})

    def ids_for_document(self, document_id: str) -> set[str]:
        return set(self._collection.get(where={"document_id": document_id}, include=[])["ids"])

    def count(self) -> int:
        return int(self._collection.count())

    def heartbeat(self) -> bool:
        self._client.heartbeat()
        return True


#: Words too common to help a keyword query (a short English list; FTS5 has none of its own).
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "for",
        "from",
        "has",
        "have",
        "how",
        "in",
        "is",
        "it",
        "its",
        "of",
        "on",
        "or",
        "that",
        "the",
        "this",
        "to",
        "was",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "why",
        "will",
        "with",
        "did",
        "does",
        "do",
        "i",
        "you",
        "we",
        "they",
        "he",
        "she",
        "them",
        "their",
        "our",
        "your",
        "me",
        "my",
        "can",
        "could",
        "would",
        "should",
        "about",
        "into",
        "than",
        "then",
        "there",
        "these",
        "those",
        "been",
        "being",
        "also",
        "any",
        "all",
    ]
)
_TERM = re.compile(r"[^\W_]+", re.UNICODE)


def query_terms(query: str) -> list[str]:
    """Lower-cased word terms of ``query`` without stop words, in order, unique."""
    seen: dict[str, None] = {}
    for term in _TERM.findall(query.lower()):
        if term not in STOP_WORDS:
            seen.setdefault(term, None)
    return list(seen)


class KeywordIndex:
    """BM25 over the catalog's full-text index (SQLite FTS5 ``bm25()``, PostgreSQL ``ts_rank_cd``).

    Terms are OR-ed so partial matches rank (BM25 weighs rare terms up); only chunks of ready
    documents are returned.
    """

    def search(
        self,
        session: Session,
        query: str,
        k: int,
        *,
        collection_id: int | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> list[KeywordHit]:
        """Up to ``k`` chunks matching any term of ``query``, best first."""
        terms = query_terms(query)
        if not terms:
            return []
        params: dict[str, Any] = {"k": k}
        filters = ["d.status = 'ready'"]
        if collection_id is not None:
            filters.append("c.collection_id = :collection_id")
            params["collection_id"] = collection_id
        if document_ids:
            names = []
            for i, doc_id in enumerate(document_ids):
                params[f"doc{i}"] = doc_id
                names.append(f":doc{i}")
            filters.append(f"c.document_id IN ({', '.join(names)})")
        where = " AND ".join(filters)
        dialect = session.get_bind().dialect.name
        if dialect == "sqlite":
            params["match"] = " OR ".join(f'"{t}"' for t in terms)
            sql = f"""
                SELECT c.chunk_id, -bm25(chunks_fts) AS score
                FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id
                WHERE chunks_fts MATCH :match AND {where}
                ORDER BY bm25(chunks_fts) LIMIT :k"""
        elif dialect == "postgresql":
            params["tsq"] = " | ".join(terms)
            sql = f"""
                SELECT c.chunk_id, ts_rank_cd(c.tsv, q) AS score
                FROM chunks c JOIN documents d ON d.id = c.document_id,
                     to_tsquery('english', :tsq) AS q
                WHERE c.tsv @@ q AND {where}
                ORDER BY score DESC LIMIT :k"""
        else:
            raise IndexError_(f"no keyword index for the {dialect} dialect")
        rows = session.execute(text(sql), params).all()
        return [KeywordHit(chunk_id=row[0], score=float(row[1])) for row in rows]


class WriterLockHeld(IndexError_):
    """Another process is writing the embedded Chroma directory."""


def acquire_writer_lock(settings: Settings) -> Any:
    """Take the one-writer lock of the embedded Chroma directory (two writers lose vectors
    silently). Returns the held ``filelock.FileLock``; ``None`` when a Chroma server is used (the
    server serialises writes). Raises ``WriterLockHeld`` at once when another process holds it."""
    if settings.chroma_url:
        return None
    from filelock import FileLock, Timeout

    settings.chroma_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(settings.chroma_dir / "docent-writer.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout as exc:
        raise WriterLockHeld(
            f"another docent process is writing {settings.chroma_dir} (a running `docent serve`?). "
            "Upload through its API (docent ingest --server URL) or stop it first."
        ) from exc
    return lock
