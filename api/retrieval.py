"""Hybrid retrieval: dense (Chroma) + keyword (BM25 over the catalog's chunks, ranked in memory) → score fusion → rerank
(identity unless a reranker is configured).

Both retrievers fetch a candidate pool larger than ``k``; their scores are min-max normalised per
query and combined convexly, ``0.7 · dense + 0.3 · keyword`` (Bruch, Gai & Ingber, "An Analysis of
Fusion Functions for Hybrid Retrieval", ACM TOIS 2023, which found convex combination more
accurate and robust than reciprocal rank fusion). Measured here with ``docent eval``: on
FinanceBench (52.7k chunks) RRF cut page-recall@10 from 0.46 (dense) to 0.31 while the convex
combination kept 0.46 and raised MRR@10; on SEC 10-Q doc-recall@5 0.77 (RRF) → 0.835; on SQuAD 2.0
answer-chunk recall@10 0.986 → 0.991, MRR 0.869 → 0.890. The weight was picked from 0.5-0.8 on
those three sets. Every candidate is then placed (its document and page) from the catalog,
which drops vectors whose chunk row or ready document does not exist (an interrupted ingest, a
deleted document): the catalog is the source of truth for what can be returned. The document
prior (``DocumentKeywordIndex``) then lifts the chunks of the documents the query names, and only
the ``k`` chosen are read in full. A PDF page
yields at most one result, its best chunk (field collapsing, as search engines group hits): on
FinanceBench hybrid page-recall@10 rose 0.615 → 0.661 and @5 0.462 → 0.492, and no recall or
MRR can fall this way (the collapsed top-n holds every distinct page of the uncollapsed top-n).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from api.errors import CollectionNotFound
from api.rerank import IdentityReranker, Reranker, RerankError, build_reranker
from api.schemas import RetrievalMode, RetrievedChunk
from ingest.embeddings import Embedder
from ingest.index import DocumentKeywordIndex, KeywordIndex, VectorIndex, place_chunks
from ingest.models import Chunk, Collection, Document
from ingest.settings import Settings

__all__ = ["DENSE_WEIGHT", "RetrievalResult", "Retriever", "build_retriever", "convex_combination"]

logger = logging.getLogger(__name__)

#: Weight of the dense score in the convex combination (the keyword score gets the rest).
DENSE_WEIGHT = 0.7
#: Weight of the document prior (``DocumentKeywordIndex.scores``, in [0, 1]) added to a chunk's
#: fused score in hybrid mode; chosen from 1-4 on SEC 10-Q, FinanceBench and SQuAD.
DOCUMENT_PRIOR_WEIGHT = 3.0
#: Candidates each retriever returns. Fusing deeper lists lets a chunk that one retriever ranks
#: 60th still earn that retriever's share of its score. ``docent eval``, hybrid, pool of 40 -> 200:
#: FinanceBench dev (65 questions, 52.7k chunks) page-recall@10 0.646 -> 0.708, @5 0.538 -> 0.569,
#: MRR@10 0.383 -> 0.398; SEC 10-Q doc-recall@5 0.969 unchanged; SQuAD answer recall@10 0.955 ->
#: 0.966 (with the document prior gated as below). Deeper pools, replayed offline on the same
#: FinanceBench candidates (prior ungated): 300 and 400 kept @10 at 0.708 and lowered @5.
CANDIDATES = 200
#: The document prior lifts only the fused top ``max(k · CANDIDATE_FACTOR, PRIOR_CANDIDATES)``: it
#: reorders passages that the retrievers found plausible, and does not pull in every chunk of the
#: document it favours. Ungated over 200 candidates (on SQuAD's 189 chunks, the whole corpus), a
#: wrong favourite filled the top 10: SQuAD answer recall@10 0.955 -> 0.901, doc-recall@5 0.957 ->
#: 0.903 (SEC 10-Q 0.969 -> 0.979; FinanceBench page recall the same as gated, MRR 0.396).
CANDIDATE_FACTOR = 4
PRIOR_CANDIDATES = 40
#: Content types with real pages: results hold at most one chunk (the best) per page of these.
#: A FinanceBench filing page holds 5.2 chunks on average (52,696 on 10,171 pages), and the
#: runners-up of a page mostly repeat it: its dev questions' plain hybrid top 10 held 8.05
#: distinct pages on average. A page's place goes to the next page instead; citations are per page.
PAGINATED = frozenset({"application/pdf"})
#: The chunk columns a result carries.
_HYDRATED = (
    Chunk.chunk_id,
    Chunk.document_id,
    Chunk.page_start,
    Chunk.page_end,
    Chunk.char_start,
    Chunk.char_end,
    Chunk.section,
    Chunk.text,
)


def _min_max(scored: Sequence[tuple[str, float]]) -> dict[str, float]:
    if not scored:
        return {}
    low = min(score for _, score in scored)
    high = max(score for _, score in scored)
    if high == low:
        return {item: 1.0 for item, _ in scored}
    return {item: (score - low) / (high - low) for item, score in scored}


def convex_combination(
    dense: Sequence[tuple[str, float]], keyword: Sequence[tuple[str, float]], dense_weight: float = DENSE_WEIGHT
) -> list[tuple[str, float]]:
    """Fuse two scored candidate lists: each min-max normalised to [0, 1], then
    ``dense_weight · dense + (1 - dense_weight) · keyword`` (a candidate missing from a list scores 0
    there). Returns ``(id, score)`` best first; ties keep dense order, then keyword order."""
    norm_dense, norm_keyword = _min_max(dense), _min_max(keyword)
    order = {item: i for i, item in enumerate([*norm_dense, *(k for k in norm_keyword if k not in norm_dense)])}
    fused = {
        item: dense_weight * norm_dense.get(item, 0.0) + (1 - dense_weight) * norm_keyword.get(item, 0.0)
        for item in order
    }
    return sorted(fused.items(), key=lambda pair: (-pair[1], order[pair[0]]))


class _Place(NamedTuple):
    """Where a candidate chunk lies: enough to apply the document prior and keep one result per page."""

    document_id: str
    page_start: int
    content_type: str


@dataclass
class RetrievalResult:
    """The ranked chunks, per-stage timings in ms, and the relevance signals chat's refusal gate
    reads: the highest dense cosine similarity among the results (``None`` in keyword mode) and
    how many of the results the keyword retriever also found (``None`` in dense mode)."""

    results: list[RetrievedChunk]
    timings_ms: dict[str, float]
    best_similarity: float | None = None
    keyword_matches: int | None = None


class Retriever:
    """Runs a query against both indexes. Thread-safe; holds no per-request state."""

    def __init__(
        self,
        *,
        session_factory: sessionmaker[Session],
        embedder: Embedder,
        vector_index: VectorIndex,
        keyword_index: KeywordIndex,
        document_index: DocumentKeywordIndex | None = None,
        reranker: Reranker | None = None,
        rerank_candidates: int = 30,
    ) -> None:
        self.session_factory = session_factory
        self.embedder = embedder
        self.vector_index = vector_index
        self.keyword_index = keyword_index
        self.document_index = document_index or DocumentKeywordIndex()
        self.reranker: Reranker = reranker or IdentityReranker()
        self.rerank_candidates = rerank_candidates

    def retrieve(
        self,
        query: str,
        *,
        k: int = 8,
        mode: RetrievalMode = "hybrid",
        collection: str | None = None,
        document_ids: Sequence[str] | None = None,
        one_per_page: bool = True,
    ) -> RetrievalResult:
        """Top-``k`` chunks for ``query``. Raises ``CollectionNotFound`` for an unknown collection.
        ``one_per_page=False`` keeps every chunk of a PDF page (``docent eval``'s recipe baseline,
        a plain top-k).

        ``score`` is cosine similarity (dense), BM25 (keyword) or, in hybrid, the fused score in
        [0, 1] plus ``DOCUMENT_PRIOR_WEIGHT`` times the document prior in [0, 1].
        """
        timings: dict[str, float] = {}
        started = time.perf_counter()
        pool = max(k * CANDIDATE_FACTOR, CANDIDATES)  # room for fusion and for one result per page
        with self.session_factory() as session:
            collection_id = self.collection_id(session, collection)
        vector: list[float] | None = None
        if mode in ("dense", "hybrid"):
            t0 = time.perf_counter()
            vector = self.embedder.embed_query(query)  # on every core (see ``LocalOnnxEmbedder``)
            timings["embed"] = _ms(t0)
        # Then each stage in turn: they are short and mostly Python, and run side by side they
        # slowed each other more than they overlapped (the ANN search 3 -> 8 ms next to BM25).
        with self.session_factory() as session:
            dense: list[tuple[str, float]] = []
            if vector is not None:
                t0 = time.perf_counter()
                hits = self.vector_index.query(vector, pool, collection_id=collection_id, document_ids=document_ids)
                dense = [(h.chunk_id, h.similarity) for h in hits]
                timings["dense"] = _ms(t0)
            reranking = not isinstance(self.reranker, IdentityReranker)
            wanted = max(k, self.rerank_candidates) if reranking else k
            prior_depth = max(k * CANDIDATE_FACTOR, PRIOR_CANDIDATES)
            prior: dict[str, float] = {}
            if mode == "hybrid":
                t0 = time.perf_counter()
                prior = self.document_index.scores(
                    session, query, collection_id=collection_id, document_ids=document_ids
                )
                timings["documents"] = _ms(t0)
            keyword: list[tuple[str, float]] = []
            depth = pool
            while True:  # the keyword and place times add up over the rounds
                if mode in ("keyword", "hybrid"):
                    t0 = time.perf_counter()
                    keyword = self.keyword_index.rank(
                        session, query, depth, collection_id=collection_id, document_ids=document_ids
                    )
                    timings["keyword"] = timings.get("keyword", 0.0) + _ms(t0)
                ranked = convex_combination(dense, keyword) if mode == "hybrid" else dense or keyword
                t0 = time.perf_counter()
                chosen = self._place_and_choose(session, ranked, wanted, prior, prior_depth, one_per_page=one_per_page)
                timings["place"] = timings.get("place", 0.0) + _ms(t0)
                # The keyword candidates are not placed before fusion: when too many of them do not
                # place (a document deleted moments ago, one requeued by ``docent doctor --repair``)
                # and the keyword side may hold more, rank deeper, as placing them first did.
                if len(chosen) >= wanted or mode == "dense" or len(keyword) < depth:
                    break
                depth *= 4
            t0 = time.perf_counter()
            results = self._hydrate(session, chosen)
            timings["hydrate"] = _ms(t0)
        if reranking and results:
            t0 = time.perf_counter()
            results = self._rerank(query, results, k)
            timings["rerank"] = _ms(t0)
        timings["total"] = _ms(started)
        best: float | None = None
        if mode != "keyword":
            similarity = dict(dense)
            best = max((similarity.get(r.chunk_id, 0.0) for r in results), default=0.0)
        matches: int | None = None
        if mode != "dense":
            found = {chunk_id for chunk_id, _ in keyword}
            matches = sum(r.chunk_id in found for r in results)
        return RetrievalResult(results=results, timings_ms=timings, best_similarity=best, keyword_matches=matches)

    def _rerank(self, query: str, candidates: list[RetrievedChunk], k: int) -> list[RetrievedChunk]:
        """Reorder by the reranker's scores; on its failure keep the fused order (and log it)."""
        try:
            order = self.reranker.rerank(query, [c.text for c in candidates])
        except RerankError:
            logger.warning("reranker failed; keeping the fused order", exc_info=True)
            return candidates[:k]
        return [
            candidates[i].model_copy(update={"score": round(score, 6), "rank": rank})
            for rank, (i, score) in enumerate(order[:k], start=1)
        ]

    @staticmethod
    def collection_id(session: Session, name: str | None) -> int | None:
        """The id of the collection named ``name`` (None for None: every collection). Raises
        ``CollectionNotFound``."""
        if name is None:
            return None
        found = session.scalars(select(Collection.id).where(Collection.name == name)).first()
        if found is None:
            raise CollectionNotFound(f"no collection named {name!r}")
        return found

    @staticmethod
    def _place(session: Session, chunk_ids: Sequence[str]) -> dict[str, _Place]:
        """Where each of ``chunk_ids`` lies, for those with a chunk row of a ready document
        (``place_chunks``)."""
        return {
            row.chunk_id: _Place(row.document_id, row.page_start, row.content_type)
            for row in place_chunks(session, "chunk_id", chunk_ids)
        }

    def _place_and_choose(
        self,
        session: Session,
        ranked: list[tuple[str, float]],
        k: int,
        prior: dict[str, float],
        prior_depth: int,
        *,
        one_per_page: bool,
    ) -> list[tuple[str, float]]:
        """``_choose`` over ``ranked``, placing only as long a prefix of it as the choice needs:
        ``prior_depth`` placed candidates and ``k`` chosen, or all of it. The choice is the one
        over the whole list: what lies beyond the prefix scores no higher than its fused score,
        which is below every chosen score, and gains no prior. Placing the 200 dense candidates of
        a query took 2.3-2.8 ms p50 at 52.7k chunks, and the keyword side's 250 about 1.6 ms at
        21.6k (placed as it ranked them, before); most are never needed."""
        placed: dict[str, _Place] = {}
        end = 0
        step = prior_depth + k
        while True:
            start, end = end, min(len(ranked), end + step)
            placed |= self._place(session, [chunk_id for chunk_id, _ in ranked[start:end]])
            prefix = ranked[:end]
            chosen = self._choose(prefix, placed, k, prior, prior_depth, one_per_page=one_per_page)
            enough = sum(chunk_id in placed for chunk_id, _ in prefix) >= prior_depth and len(chosen) >= k
            if enough or end == len(ranked):
                return chosen
            step *= 2

    @staticmethod
    def _choose(
        ranked: list[tuple[str, float]],
        placed: dict[str, _Place],
        k: int,
        prior: dict[str, float] | None = None,
        prior_depth: int = PRIOR_CANDIDATES,
        *,
        one_per_page: bool = True,
    ) -> list[tuple[str, float]]:
        """The top ``k`` ``(chunk id, score)`` of ``ranked``, keeping only ``placed`` chunks and,
        with ``one_per_page``, only the first chunk of each page of a paginated document; with a
        document ``prior``, each of the first ``prior_depth`` placed chunks first gains
        ``DOCUMENT_PRIOR_WEIGHT · prior[document]`` and the list is re-sorted."""
        ranked = [(chunk_id, score) for chunk_id, score in ranked if chunk_id in placed]
        if prior:
            ranked = sorted(
                (
                    (chunk_id, score + DOCUMENT_PRIOR_WEIGHT * prior.get(placed[chunk_id].document_id, 0.0))
                    if i < prior_depth
                    else (chunk_id, score)
                    for i, (chunk_id, score) in enumerate(ranked)
                ),
                key=lambda pair: -pair[1],
            )
        chosen: list[tuple[str, float]] = []
        pages: set[tuple[str, int]] = set()
        for chunk_id, score in ranked:
            where = placed[chunk_id]
            if one_per_page and where.content_type in PAGINATED:
                if (where.document_id, where.page_start) in pages:
                    continue  # one passage per page: its best chunk
                pages.add((where.document_id, where.page_start))
            chosen.append((chunk_id, score))
            if len(chosen) == k:
                break
        return chosen

    @staticmethod
    def _hydrate(session: Session, chosen: list[tuple[str, float]]) -> list[RetrievedChunk]:
        """``chosen`` ``(chunk id, score)`` as results, in order, with their text and offsets;
        a chunk deleted since it was placed is left out."""
        if not chosen:
            return []
        rows = session.execute(
            select(*_HYDRATED, Document.filename)
            .join(Document, Document.id == Chunk.document_id)
            .where(Chunk.chunk_id.in_([chunk_id for chunk_id, _ in chosen]))
        ).all()
        by_id = {row.chunk_id: row for row in rows}
        results: list[RetrievedChunk] = []
        for chunk_id, score in chosen:
            chunk = by_id.get(chunk_id)
            if chunk is None:
                continue
            results.append(
                RetrievedChunk(
                    chunk_id=chunk.chunk_id,
                    document_id=chunk.document_id,
                    filename=chunk.filename,
                    page_start=chunk.page_start,
                    page_end=chunk.page_end,
                    char_start=chunk.char_start,
                    char_end=chunk.char_end,
                    section=chunk.section,
                    text=chunk.text,
                    score=round(score, 6),
                    rank=len(results) + 1,
                )
            )
        return results


def build_retriever(
    settings: Settings, *, session_factory: sessionmaker[Session], embedder: Embedder, vector_index: VectorIndex
) -> Retriever:
    """The retriever the settings describe: both indexes, and the configured reranker."""
    return Retriever(
        session_factory=session_factory,
        embedder=embedder,
        vector_index=vector_index,
        keyword_index=KeywordIndex(),
        reranker=build_reranker(settings),
        rerank_candidates=settings.rerank_candidates,
    )


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
