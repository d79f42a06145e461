"""The indexes: vectors in Chroma, keywords in the catalog's own full-text index.

``VectorIndex`` wraps one Chroma collection (cosine space, ``ef_search`` raised at creation and
set again on opening an index made with another), in embedded mode (``PersistentClient``) or
against a server (``HttpClient``). Embeddings are always passed in (no Chroma embedding function);
the collection records the embedder's name and refuses another. The keyword index is SQLite FTS5
(porter stemmer) or PostgreSQL ``tsvector``: both live in the catalog and are written by the
database in the chunk rows' transaction, so they are shared by every worker and never disagree
with the catalog. ``KeywordIndex`` ranks chunks by BM25 in a per-process, in-memory replica of it
(``ingest.bm25``) that follows the catalog, and in the catalog itself while that replica loads.
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, TypeVar
from urllib.parse import urlparse

import numpy as np
from sqlalchemy import delete, insert, text
from sqlalchemy.orm import Session

from ingest.bm25 import ChunkBM25, query_stems
from ingest.db import in_values
from ingest.models import DocumentStatus, DocumentTerm
from ingest.settings import Settings

__all__ = [
    "DocumentKeywordIndex",
    "EmbedderMismatch",
    "IndexError_",
    "KeywordHit",
    "KeywordIndex",
    "VectorHit",
    "VectorIndex",
    "document_terms",
    "place_chunks",
    "rarest",
]

logger = logging.getLogger(__name__)
T = TypeVar("T")


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
    """A BM25 match and where it lies (its document, first page and the document's content type),
    read in the same query so retrieval need not look it up again."""

    chunk_id: str
    score: float
    document_id: str
    page_start: int
    content_type: str


class VectorIndex:
    """Chunk vectors, one Chroma collection (HNSW index) per docent collection.

    Chroma's metadata ``where`` filter made a query 40-80x slower at 52k vectors (4 ms → 157-343 ms
    for a collection filter, 50-85 ms for one document; measured with ``chromadb`` 1.5.9 on 2
    cores), so a collection is its own HNSW index and needs no filter, and a ``document_ids``
    filter over-fetches from that index and filters the hits, falling back to ``where`` only when
    the documents are too small a share of it to surface. Vectors carry metadata ``document_id``,
    ``collection_id`` and ``page``.
    """

    def __init__(self, client: Any, *, prefix: str, embedder_name: str, dimension: int, ef_search: int) -> None:
        self._client = client
        self.prefix = prefix
        self.embedder_name = embedder_name
        self.dimension = dimension
        self.ef_search = ef_search
        self._collections: dict[int, Any] = {}
        self._refreshed = 0.0
        self._refresh()

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
            prefix=settings.chroma_collection,
            embedder_name=embedder_name,
            dimension=dimension,
            ef_search=settings.hnsw_ef_search,
        )

    def _name(self, collection_id: int) -> str:
        return f"{self.prefix}_c{collection_id}"

    def _existing_ids(self) -> list[int]:
        found = []
        for item in self._client.list_collections():
            name = item if isinstance(item, str) else item.name
            head, _, tail = name.rpartition("_c")
            if head == self.prefix and tail.isdigit():
                found.append(int(tail))
        return sorted(found)

    def _collection(self, collection_id: int) -> Any:
        """The Chroma collection of ``collection_id``, created on first use. Raises
        ``EmbedderMismatch`` when it was built by another embedder."""
        cached = self._collections.get(collection_id)
        if cached is not None:
            return cached
        chroma = self._client.get_or_create_collection(
            name=self._name(collection_id),
            configuration={"hnsw": {"space": "cosine", "ef_search": self.ef_search, "ef_construction": 200}},
            metadata={"embedder": self.embedder_name, "dimension": self.dimension},
            embedding_function=None,
        )
        stored = (chroma.metadata or {}).get("embedder")
        if stored and stored != self.embedder_name:
            raise EmbedderMismatch(
                f"the index {chroma.name!r} was built with embedder {stored!r}, not {self.embedder_name!r}; "
                "use the same DOCENT_EMBEDDING_PROVIDER or a fresh DOCENT_DATA_DIR"
            )
        hnsw = (chroma.configuration_json or {}).get("hnsw") or {}
        if hnsw.get("ef_search") not in (None, self.ef_search):  # created with another (an earlier default)
            chroma.modify(configuration={"hnsw": {"ef_search": self.ef_search}})
            logger.info("%s: HNSW ef_search %s -> %s", chroma.name, hnsw["ef_search"], self.ef_search)
        self._collections[collection_id] = chroma
        return chroma

    def _refresh(self) -> None:
        for existing in self._existing_ids():
            self._collection(existing)
        self._refreshed = time.monotonic()

    def _targets(self, collection_id: int | None) -> list[Any]:
        """The indexes to search: one collection's (if it has any vectors) or all of them. Indexes
        created by other processes sharing a Chroma server are picked up on a miss, and for
        unfiltered searches at most every ``REFRESH_S`` seconds (listing costs a round trip)."""
        stale = time.monotonic() - self._refreshed > REFRESH_S
        if (collection_id is None and stale) or (collection_id is not None and collection_id not in self._collections):
            self._refresh()
        if collection_id is None:
            return list(self._collections.values())
        found = self._collections.get(collection_id)
        return [found] if found is not None else []

    def upsert(
        self,
        collection_id: int,
        ids: Sequence[str],
        embeddings: Sequence[Sequence[float]],
        metadatas: Sequence[dict[str, Any]],
    ) -> None:
        """Write vectors into ``collection_id``'s index (idempotent by id), in batches the client accepts."""
        chroma = self._collection(collection_id)
        step = max(1, min(4000, int(self._client.get_max_batch_size())))
        for begin in range(0, len(ids), step):
            end = begin + step
            chroma.upsert(
                ids=list(ids[begin:end]),
                embeddings=np.asarray(embeddings[begin:end], dtype=np.float32),
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
        """The ``k`` nearest chunks, most similar first; similarity = 1 - cosine distance.

        Without ``collection_id`` every collection's index is searched and the hits merged."""
        targets = self._targets(collection_id)
        hits: list[VectorHit] = []
        vector = np.asarray(embedding, dtype=np.float32)
        for chroma in targets:
            hits.extend(self._query_one(chroma, vector, k, document_ids))
        hits.sort(key=lambda h: h.similarity, reverse=True)
        return hits[:k]

    @staticmethod
    def _query_one(chroma: Any, embedding: np.ndarray, k: int, document_ids: Sequence[str] | None) -> list[VectorHit]:
        # Chroma returns fewer hits than n_results when the index is smaller: no count() call needed
        if not document_ids:
            result = chroma.query(query_embeddings=[embedding], n_results=k, include=["distances"])
            return [VectorHit(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]
        wanted = set(document_ids)
        n = max(k * 10, OVERFETCH_MIN)
        while True:
            result = chroma.query(query_embeddings=[embedding], n_results=n, include=["distances", "metadatas"])
            kept = [
                VectorHit(i, 1.0 - float(d))
                for i, d, m in zip(result["ids"][0], result["distances"][0], result["metadatas"][0], strict=True)
                if m and m.get("document_id") in wanted
            ]
            if len(kept) >= k or len(result["ids"][0]) < n:  # enough, or the whole index was seen
                return kept[:k]
            if n >= OVERFETCH_MAX:
                break
            n *= 4
        where = {"document_id": {"$in": list(document_ids)}}
        result = chroma.query(query_embeddings=[embedding], n_results=k, where=where, include=["distances"])
        return [VectorHit(i, 1.0 - float(d)) for i, d in zip(result["ids"][0], result["distances"][0], strict=True)]

    def delete_document(self, document_id: str, collection_id: int | None = None) -> None:
        """Remove every vector of ``document_id`` (from every index when the collection is unknown)."""
        for chroma in self._targets(collection_id):
            chroma.delete(where={"document_id": document_id})

    def collection_ids(self) -> list[int]:
        """Docent collection ids that have an index (listed afresh)."""
        self._refresh()
        return sorted(self._collections)

    def ids(self, collection_id: int, page: int = 5000) -> set[str]:
        """Every vector id in ``collection_id``'s index."""
        chroma = self._collections.get(collection_id) or self._collection(collection_id)
        found: set[str] = set()
        offset = 0
        while batch := chroma.get(include=[], limit=page, offset=offset)["ids"]:
            found.update(batch)
            offset += len(batch)
        return found

    def delete_ids(self, collection_id: int, ids: Sequence[str]) -> None:
        """Remove the vectors ``ids`` from ``collection_id``'s index."""
        chroma = self._collection(collection_id)
        for begin in range(0, len(ids), 5000):
            chroma.delete(ids=list(ids[begin : begin + 5000]))

    def count(self) -> int:
        """Vectors in every index."""
        return sum(int(c.count()) for c in self._targets(None))

    def heartbeat(self) -> bool:
        self._client.heartbeat()
        return True


#: Over-fetch bounds for document filters (hits requested from the collection's index).
OVERFETCH_MIN = 200
OVERFETCH_MAX = 3200
#: Seconds between re-listings of the Chroma indexes for unfiltered searches.
REFRESH_S = 5.0


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


_RUN = re.compile(r"[^\W\d_]{2,}|\d{2,}")


def query_terms(query: str) -> list[str]:
    """Lower-cased words of ``query`` without stop words, in order, unique; a word mixing letters
    and digits is followed by its letter and digit runs of two or more characters ("FY2018" →
    fy2018, fy, 2018), as a word-delimiter filter splits them: documents write "fiscal 2018" and
    file names "3M_2018_10K". Only queries are split, so stored terms stay as they are."""
    seen: dict[str, None] = {}
    for word in _TERM.findall(query.lower()):
        if word in STOP_WORDS:
            continue
        seen.setdefault(word, None)
        if not word.isalpha() and not word.isdigit():
            for run in _RUN.findall(word):
                if run not in STOP_WORDS:
                    seen.setdefault(run, None)
    return list(seen)


#: Query terms sent to SQLite FTS5: at most the 12 rarest, leaving out terms found in more than 5%
#: of the chunks (unless that leaves fewer than 3): FTS5 scores every posting of every OR-ed term,
#: and common terms carry little BM25 weight (dense retrieval covers what they mean). Measured with
#: `docent eval` (FinanceBench, 52.7k chunks): keyword p50 38 -> 15 ms; hybrid page-recall@10
#: 0.615 unchanged, @5 0.431 -> 0.462, doc-recall@5 0.954; SEC 10-Q hybrid doc-recall@5 0.979 ->
#: 0.959. A 2% cap cost doc-recall (0.939 FinanceBench, 0.949 SEC); 8 terms instead of 12 cost SEC
#: 0.949 -> 0.928.
MAX_KEYWORD_TERMS = 12
MIN_KEYWORD_TERMS = 3
KEYWORD_DF_CAP = 0.05
#: Terms whose chunk counts a ``KeywordIndex`` keeps between additions to the catalog.
DF_CACHE_TERMS = 50_000
#: SQLite: FTS5 ranks alone and keeps ``k`` times this many rows before the join to the catalog.
#: Retrieval asks for 200 candidates; joining 250 rows instead of 600 took search p50 from 8.1
#: to 7.1 ms and from 8.4 to 6.9 ms in two runs (FinanceBench dev questions at 52.7k chunks,
#: a throw-away timing script).
KEYWORD_OVERFETCH = 1.25


def rarest(terms: Sequence[T], chunk_counts: dict[T, int], chunks: int) -> list[T]:
    """The query terms worth scoring: those occurring at all, rarest first, without those in more
    than ``KEYWORD_DF_CAP`` of the ``chunks`` (unless fewer than ``MIN_KEYWORD_TERMS`` would be
    left, when the rarest that many are kept), at most ``MAX_KEYWORD_TERMS``."""
    present = sorted((t for t in terms if chunk_counts[t] > 0), key=chunk_counts.__getitem__)
    rare = [t for t in present if chunk_counts[t] <= KEYWORD_DF_CAP * chunks]
    return (rare if len(rare) >= MIN_KEYWORD_TERMS else present[:MIN_KEYWORD_TERMS])[:MAX_KEYWORD_TERMS]


def place_chunks(session: Session, column: Literal["id", "chunk_id"], values: Sequence[Any]) -> list[Any]:
    """The chunks whose ``column`` is in ``values`` and whose document is ready, each as a row of
    ``id, chunk_id, document_id, page_start, content_type, status``: where retrieval candidates
    lie. The catalog is the source of truth for what can be returned (a vector of an interrupted
    ingest, or a keyword entry of a deleted document, has no row)."""
    if not values:
        return []
    match, params = in_values(session, f"c.{column}", values)
    # The document's status is checked here, not in SQL: filtering on it there lets SQLite's
    # planner scan every chunk of every ready document (26 ms at 50k chunks, against <1 ms).
    rows = session.execute(
        text(
            "SELECT c.id, c.chunk_id, c.document_id, c.page_start, d.content_type, d.status "
            f"FROM chunks c JOIN documents d ON d.id = c.document_id WHERE {match}"
        ),
        params,
    ).all()
    ready = DocumentStatus.ready.value
    return [row for row in rows if row[5] == ready]


class KeywordIndex:
    """BM25 over the catalog's chunks: ranked in memory by a ``ChunkBM25`` replica of the chunk
    index, or, while the replica loads a large catalog, by the catalog's own full-text index
    (SQLite FTS5 ``bm25()``, PostgreSQL ``ts_rank_cd``).

    Terms are OR-ed so partial matches rank (BM25 weighs rare terms up); only the
    ``MAX_KEYWORD_TERMS`` rarest terms that occur at all are scored. ``search`` returns only
    chunks of ready documents (hits are placed through the catalog); ``rank`` leaves placing to
    its caller.
    """

    def __init__(self) -> None:
        self._df: dict[str, int] = {}
        self._df_key: tuple[str, int] | None = None
        self._lock = threading.Lock()  # the term counts and the replicas
        self._replicas: dict[str, ChunkBM25] = {}

    def replica(self, engine: Any) -> ChunkBM25:
        """The in-memory replica of ``engine``'s catalog (one per database URL)."""
        url = str(engine.url)
        with self._lock:
            return self._replicas.setdefault(url, ChunkBM25())

    def warm(self, engine: Any) -> None:
        """Load the catalog's chunks into the in-memory replica now, on this thread."""
        self.replica(engine).warm(engine)

    def _chunk_counts(self, session: Session, stems: set[str]) -> tuple[dict[str, int], int]:
        """Chunks containing each stem (FTS5's vocabulary), and ``max(chunks.id)``, about the
        chunk count. The vocabulary answers by walking each term's postings (3.7 ms p50, 7.5 ms
        p95 for FinanceBench questions at 105k chunks), so counts are kept per process until a
        chunk is added; after deletions they may run high until then, which only shifts which
        terms are sent, never how the sent terms score."""
        newest = int(session.execute(text("SELECT max(id) FROM chunks")).scalar_one() or 0)
        key = (str(session.get_bind().engine.url), newest)
        with self._lock:
            if key != self._df_key or len(self._df) > DF_CACHE_TERMS:
                self._df, self._df_key = {}, key
            counts = {s: self._df[s] for s in stems if s in self._df}
        missing = sorted(stems - counts.keys())
        if missing:
            params = {f"s{i}": s for i, s in enumerate(missing)}
            names = ", ".join(f":s{i}" for i in range(len(missing)))
            rows = session.execute(text(f"SELECT term, doc FROM chunks_fts_vocab WHERE term IN ({names})"), params)
            found = {str(term): int(doc) for term, doc in rows.tuples()}
            fresh = {s: found.get(s, 0) for s in missing}
            counts |= fresh
            with self._lock:
                if key == self._df_key:
                    self._df.update(fresh)
        return counts, max(1, newest)

    def _rarest(self, session: Session, terms: list[str]) -> list[str]:
        """``rarest`` of ``terms`` by FTS5's chunk counts of their stems, one word per stem (its
        first), as the in-memory replica scores them (``query_stems``)."""
        first = query_stems(terms)
        counts, chunks = self._chunk_counts(session, set(first))
        kept = rarest(list(first), {stem: counts.get(stem, 0) for stem in first}, chunks)
        return [first[stem] for stem in kept]

    def rank(
        self,
        session: Session,
        query: str,
        k: int,
        *,
        collection_id: int | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """Up to ``k`` ``(chunk id, BM25)`` matching any term of ``query``, best first, not yet
        placed: from memory they may include a chunk deleted since the replica's last check, or one
        of a document that is not ready, which the caller drops when it places its choice through
        the catalog (``place_chunks``), as retrieval does, ranking deeper when too few of them
        place. Their scores still set the min-max range that hybrid fusion normalises by. Placing
        all of them here (250 candidates, of which a query keeps 8) was half of the keyword stage:
        3.6-3.8 -> 1.8 ms p50 over HTTP at 105k chunks (``python -m tests.bench.scale``, three
        interleaved runs each)."""
        terms = query_terms(query)
        if not terms:
            return []
        replica = self.replica(session.get_bind().engine)
        state = replica.current(session)
        if state is None:  # a large catalog is still loading into memory
            hits = self._search_catalog(session, terms, k, collection_id=collection_id, document_ids=document_ids)
            return [(hit.chunk_id, hit.score) for hit in hits]
        ids = replica.terms.lookup(terms)
        kept = rarest(ids, {term: replica.document_frequency(state, term) for term in ids}, state.rows)
        return replica.search(state, kept, k, collection_id=collection_id, document_ids=document_ids)

    def search(
        self,
        session: Session,
        query: str,
        k: int,
        *,
        collection_id: int | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> list[KeywordHit]:
        """Up to ``k`` chunks of ready documents matching any term of ``query``, best first, placed."""
        fetch = math.ceil(k * KEYWORD_OVERFETCH)
        while True:
            ranked = self.rank(session, query, fetch, collection_id=collection_id, document_ids=document_ids)
            by_id = {row[1]: row for row in place_chunks(session, "chunk_id", [chunk_id for chunk_id, _ in ranked])}
            hits = [
                KeywordHit(row[1], score, row[2], row[3], row[4])  # chunk_id, document_id, page_start, content_type
                for chunk_id, score in ranked
                if (row := by_id.get(chunk_id)) is not None
            ]
            if len(hits) >= k or len(ranked) < fetch:
                return hits[:k]
            fetch *= 4  # deleted or not-ready chunks took places: rank deeper

    def _search_catalog(
        self,
        session: Session,
        terms: list[str],
        k: int,
        *,
        collection_id: int | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> list[KeywordHit]:
        """The same ranking in the catalog's full-text index (FTS5 ``bm25()``; ``ts_rank_cd``
        on PostgreSQL), used while the in-memory replica loads."""
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
            terms = self._rarest(session, terms)
            if not terms:
                return []
            params["match"] = " OR ".join(f'"{t}"' for t in terms)
            if not document_ids:
                # Rank inside FTS5 first and join only its best rows (joining every match to
                # chunks and documents cost more than the ranking); exact unless fewer than k
                # of those rows pass the filters, when the full query below runs instead.
                params["pool"] = math.ceil(k * KEYWORD_OVERFETCH)
                best = session.execute(
                    text(f"""
                    SELECT c.chunk_id, -f.score AS score, c.document_id, c.page_start, d.content_type
                    FROM (SELECT rowid, bm25(chunks_fts) AS score FROM chunks_fts
                          WHERE chunks_fts MATCH :match ORDER BY score LIMIT :pool) AS f
                    JOIN chunks c ON c.id = f.rowid JOIN documents d ON d.id = c.document_id
                    WHERE {where} ORDER BY f.score LIMIT :k"""),
                    params,
                ).all()
                if len(best) == k:
                    return [KeywordHit(row[0], float(row[1]), row[2], row[3], row[4]) for row in best]
            sql = f"""
                SELECT c.chunk_id, -bm25(chunks_fts) AS score, c.document_id, c.page_start, d.content_type
                FROM chunks_fts JOIN chunks c ON c.id = chunks_fts.rowid JOIN documents d ON d.id = c.document_id
                WHERE chunks_fts MATCH :match AND {where}
                ORDER BY bm25(chunks_fts) LIMIT :k"""
        elif dialect == "postgresql":
            params["tsq"] = " | ".join(terms)
            sql = f"""
                SELECT c.chunk_id, ts_rank_cd(c.tsv, q) AS score, c.document_id, c.page_start, d.content_type
                FROM chunks c JOIN documents d ON d.id = c.document_id,
                     to_tsquery('english', :tsq) AS q
                WHERE c.tsv @@ q AND {where}
                ORDER BY score DESC LIMIT :k"""
        else:
            raise IndexError_(f"no keyword index for the {dialect} dialect")
        rows = session.execute(text(sql), params).all()
        return [KeywordHit(row[0], float(row[1]), row[2], row[3], row[4]) for row in rows]


MAX_TERM_CHARS = 64


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import snowballstemmer

    return snowballstemmer.stemmer("english")


def document_terms(texts: Sequence[str]) -> Counter[str]:
    """Stemmed term frequencies of ``texts`` taken together: lower-cased words (letters and digits),
    stop words dropped, Snowball English stems (Porter 2), words over 64 characters skipped."""
    words: Counter[str] = Counter()
    for chunk_of_text in texts:
        words.update(w for w in _TERM.findall(chunk_of_text.lower()) if w not in STOP_WORDS)
    stem = _stemmer().stemWord
    stems: Counter[str] = Counter()
    for word, count in words.items():
        if len(word) <= MAX_TERM_CHARS:
            stems[stem(word)] += count
    return stems


#: Characters of a document's opening that go into its card (with its context).
CARD_CHARS = 1000


def document_card(context: str, text: str) -> list[str]:
    """What the document-level index holds for a document: its context (file name, title) and the
    first ``CARD_CHARS`` characters of its text (a cover page, a title block, an abstract)."""
    return [context, text[:CARD_CHARS]]


@dataclass
class _Cards:
    """A snapshot of the document index over the ready documents, as of ``signature``."""

    signature: tuple[Any, ...]
    postings: dict[str, list[tuple[str, int]]]  # term -> [(document id, tf)]
    documents: dict[str, tuple[int, int]]  # document id -> (collection id, length in terms)
    #: per collection, and for all (None): (number of documents, average length in terms)
    stats: dict[int | None, tuple[int, float]]


class DocumentKeywordIndex:
    """BM25 over document cards (context plus the document's opening, see ``document_card``),
    from the catalog's ``document_terms``: the document prior of hybrid retrieval.

    Chunk-level retrieval sees 800 characters at a time, so a balance-sheet chunk of Apple's 10-Q
    (file "2023 Q3 AAPL") looks like every other company's; the card's cover page says "Apple
    Inc.". A two-level, document-then-passage ranking in the spirit of hierarchical retrieval.
    Cards, not whole documents: over whole 300-page filings BM25's saturation let a 10-K that
    names Amazon three times score like Amazon's own, and long questions' generic words decided the
    prior (``docent eval``, min-max prior at weight 1: FinanceBench page-recall@10 0.600 → 0.508
    with whole documents, 0.615 with cards; SEC 10-Q doc-recall@5 0.856 → 0.949 whole, 0.979 cards).
    BM25 with k1 = 1.2, b = 0.75 and the Lucene idf
    ``ln(1 + (N - df + 0.5) / (df + 0.5))`` (Robertson & Zaragoza, "The Probabilistic Relevance
    Framework: BM25 and Beyond", 2009); N, df and the average length are taken over the ready
    documents of the searched collection (all collections when none is given).

    The cards of the ready documents are held in memory (a few hundred terms a document) and
    reread when the catalog's ready documents change: every search first reads their count,
    newest ``updated_at`` and total length, one aggregate over the documents table. Thread-safe.
    """

    k1 = 1.2
    b = 0.75

    def __init__(self) -> None:
        self._cards: _Cards | None = None
        self._lock = threading.Lock()

    @staticmethod
    def write(session: Session, document_id: str, collection_id: int, terms: Counter[str]) -> int:
        """Replace the document's rows with ``terms`` (in the caller's transaction); returns the
        document's length in terms, to be stored as its ``term_count``."""
        session.execute(delete(DocumentTerm).where(DocumentTerm.document_id == document_id))
        if terms:
            session.execute(
                insert(DocumentTerm),
                [
                    {"document_id": document_id, "term": t, "collection_id": collection_id, "tf": f}
                    for t, f in terms.items()
                ],
            )
        return terms.total()

    def scores(
        self,
        session: Session,
        query: str,
        *,
        collection_id: int | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> dict[str, float]:
        """The document prior of every document whose card matches a term of ``query``: its BM25
        as a share of the query's ceiling ``Σ idf(t)·(k1 + 1)`` over the query terms found in the
        collection, in (0, 1]. A card that matches part of the question earns part of the prior,
        and when no card matches well no document is pushed up much (min-max normalisation always
        gave the best card everything: SQuAD answer recall 0.989 → 0.957; this way 0.955, while
        SEC doc-recall@5 rose 0.959 → 0.979 and FinanceBench's 0.954 → 0.985)."""
        terms = sorted(document_terms([" ".join(query_terms(query))]))
        if not terms:
            return {}
        cards = self._current(session)
        n_docs, avg = cards.stats.get(collection_id, (0, 0.0))
        if not n_docs:
            return {}
        wanted = set(document_ids) if document_ids else None
        scores: dict[str, float] = {}
        ceiling = 0.0
        for term in terms:
            matches = [
                (d, tf)
                for d, tf in cards.postings.get(term, ())
                if collection_id is None or cards.documents[d][0] == collection_id
            ]
            if not matches:
                continue
            idf = self._idf(n_docs, len(matches))
            ceiling += idf * (self.k1 + 1)
            for document_id, tf in matches:
                if wanted is not None and document_id not in wanted:
                    continue
                norm = tf + self.k1 * (1 - self.b + self.b * cards.documents[document_id][1] / avg)
                scores[document_id] = scores.get(document_id, 0.0) + idf * tf * (self.k1 + 1) / norm
        return {d: min(1.0, score / ceiling) for d, score in scores.items()} if ceiling else {}

    def _current(self, session: Session) -> _Cards:
        """The cards of the ready documents, reread when their signature changed."""
        signature = tuple(
            session.execute(
                text(
                    "SELECT count(*), max(updated_at), sum(term_count) FROM documents "
                    "WHERE status = 'ready' AND term_count > 0"
                )
            ).one()
        )
        cards = self._cards
        if cards is not None and cards.signature == signature:
            return cards
        with self._lock:
            if self._cards is not None and self._cards.signature == signature:
                return self._cards
            documents = {
                row[0]: (row[1], row[2])
                for row in session.execute(
                    text(
                        "SELECT id, collection_id, term_count FROM documents WHERE status = 'ready' AND term_count > 0"
                    )
                )
            }
            postings: dict[str, list[tuple[str, int]]] = {}
            for document_id, term, tf in session.execute(text("SELECT document_id, term, tf FROM document_terms")):
                if document_id in documents:
                    postings.setdefault(term, []).append((document_id, tf))
            lengths: dict[int | None, list[int]] = {None: []}
            for collection_id, length in documents.values():
                lengths[None].append(length)
                lengths.setdefault(collection_id, []).append(length)
            stats = {c: (len(ls), sum(ls) / len(ls)) for c, ls in lengths.items() if ls}
            self._cards = _Cards(signature, postings, documents, stats)
            return self._cards

    @staticmethod
    def _idf(n_docs: int, df: int) -> float:
        return math.log(1 + (n_docs - df + 0.5) / (df + 0.5))


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
