"""Resolve ``[n]`` markers in an answer to passages, locate the supporting span, judge support.

Markers ``[n]``, ``[n, m]`` and ``[n][m]`` are read; a number with no passage is dropped and
counted. For each marker the claim is the answer sentence it closes. Every sentence of the cited
passage is scored against the claim::

    support = LEXICAL_WEIGHT · overlap + (1 - LEXICAL_WEIGHT) · cosine

with ``overlap`` the share of the claim's content terms found in the sentence and ``cosine`` the
similarity of their MiniLM embeddings. The best-scoring sentence is the span; the verdict is
``supported`` when its score reaches ``SUPPORTED_SCORE``, else ``weak``. Both constants were
calibrated with ``python -m tests.bench.citation_calibration`` (SQuAD 2.0 dev: a claim is a
question with its gold answer; it is supported by the paragraph holding the answer and not by the
article's most similar other paragraph; fitted on three articles, checked on the other two):
balanced accuracy 0.944 held out, against 0.931 for lexical overlap alone (3 of 231 examples: a
small gain; the embedding half mainly rescues paraphrased claims). The constants hold for the
model they were calibrated with (``CALIBRATED_EMBEDDER``); with another embedder, or when embedding
fails, citations are scored by lexical overlap alone against ``LEXICAL_ONLY_SCORE``, the former
threshold.

Given the documents' page spans (``Document.page_spans``: each page's ``[start, end)`` in the
document text, which a chunk's ``char_start`` also indexes), the citation's ``page`` is the page the
span lies on and ``page_char_start``/``page_char_end`` locate it in that page's extracted text.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from api.chat.text import content_terms, overlap, sentence_spans
from api.schemas import Citation, Source
from ingest.embeddings import Embedder, EmbeddingError, LocalOnnxEmbedder

logger = logging.getLogger(__name__)

__all__ = [
    "CALIBRATED_EMBEDDER",
    "LEXICAL_ONLY_SCORE",
    "LEXICAL_WEIGHT",
    "MARKER",
    "SUPPORTED_SCORE",
    "ResolvedCitations",
    "SpanScore",
    "page_location",
    "resolve_citations",
    "span_scores",
    "strip_markers",
]

MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
#: Weight of lexical overlap in the support score (the rest is embedding cosine); calibrated.
LEXICAL_WEIGHT = 0.5
#: Support score from which a citation is ``supported``; calibrated.
SUPPORTED_SCORE = 0.525
#: The embedder behind the calibration (``ingest.embeddings.LocalOnnxEmbedder``).
CALIBRATED_EMBEDDER = LocalOnnxEmbedder.name
#: Threshold on lexical overlap alone, when cosine is not used.
LEXICAL_ONLY_SCORE = 0.5


@dataclass
class ResolvedCitations:
    citations: list[Citation]
    dropped: int


@dataclass(frozen=True)
class SpanScore:
    """A passage sentence ``[start, end)`` with the claim's term ``overlap`` and ``cosine``."""

    start: int
    end: int
    overlap: float
    cosine: float

    def support(self, lexical_weight: float = LEXICAL_WEIGHT) -> float:
        """The weighted score, clamped to [0, 1] (cosine can be negative)."""
        return min(1.0, max(0.0, lexical_weight * self.overlap + (1 - lexical_weight) * self.cosine))


def strip_markers(text: str) -> str:
    """``text`` without citation markers."""
    return MARKER.sub("", text)


def _claim_before(answer: str, position: int) -> str:
    prefix = strip_markers(answer[:position]).rstrip()
    spans = sentence_spans(prefix)
    return prefix[spans[-1][0] : spans[-1][1]] if spans else ""


def span_scores(claims: Sequence[str], passages: Sequence[str], embedder: Embedder | None) -> list[list[SpanScore]]:
    """For each ``(claims[i], passages[i])`` pair, every sentence of the passage scored against the
    claim (one embedding batch for all distinct non-blank texts; cosine 0 without an embedder or
    for a blank text). A passage without sentences yields its whole text as one span. Raises
    ``EmbeddingError`` when the embedder fails."""
    spans = [sentence_spans(p) or [(0, len(p))] for p in passages]
    texts = sorted(
        {t for t in (*claims, *(p[a:b] for p, s in zip(passages, spans, strict=True) for a, b in s)) if t.strip()}
    )
    vectors = dict(zip(texts, np.asarray(embedder.embed(texts)), strict=True)) if embedder and texts else {}

    def cosine(a: str, b: str) -> float:
        return float(vectors[a] @ vectors[b]) if a in vectors and b in vectors else 0.0

    scored: list[list[SpanScore]] = []
    for claim, passage, sentences in zip(claims, passages, spans, strict=True):
        terms = content_terms(claim)
        scored.append(
            [
                SpanScore(a, b, overlap(terms, content_terms(passage[a:b])), cosine(claim, passage[a:b]))
                for a, b in sentences
            ]
        )
    return scored


def page_location(
    source: Source, start: int, end: int, page_spans: Sequence[Sequence[int]] | None
) -> tuple[int, int | None, int | None]:
    """(1-based page, start, end in that page's text) of ``source.text[start:end]``; without
    ``page_spans`` the passage's first page and no offsets. A span running past its page's end is
    cut there."""
    if not page_spans:
        return source.page_start, None, None
    doc_start = source.char_start + start
    index = max(0, bisect_right([s[0] for s in page_spans], doc_start) - 1)
    page_start, page_end = page_spans[index]
    return index + 1, doc_start - page_start, min(source.char_start + end, page_end) - page_start


def resolve_citations(
    answer: str,
    sources: list[Source],
    embedder: Embedder,
    page_spans: Mapping[str, Sequence[Sequence[int]]] | None = None,
) -> ResolvedCitations:
    """Every valid ``[n]`` in ``answer`` as a ``Citation``, in order of appearance, de-duplicated,
    with its span, support score and verdict. ``page_spans`` maps document ids to their page spans
    (module docstring)."""
    by_n = {s.n: s for s in sources}
    pairs: list[tuple[int, str]] = []
    seen: set[tuple[int, str]] = set()
    dropped = 0
    for match in MARKER.finditer(answer):
        claim = _claim_before(answer, match.start())
        for number in (int(x) for x in match.group(1).split(",")):
            if number not in by_n:
                dropped += 1
            elif (number, claim) not in seen:
                seen.add((number, claim))
                pairs.append((number, claim))
    claims, passages = [claim for _, claim in pairs], [by_n[n].text for n, _ in pairs]
    weight, threshold = LEXICAL_WEIGHT, SUPPORTED_SCORE
    scored: list[list[SpanScore]] | None = None
    if embedder.name == CALIBRATED_EMBEDDER:
        try:
            scored = span_scores(claims, passages, embedder)
        except EmbeddingError:
            logger.warning("embedding failed while judging citations; judging by overlap alone", exc_info=True)
    if scored is None:
        weight, threshold = 1.0, LEXICAL_ONLY_SCORE
        scored = span_scores(claims, passages, None)
    citations: list[Citation] = []
    for (number, claim), candidates in zip(pairs, scored, strict=True):
        source = by_n[number]
        best = max(candidates, key=lambda s: s.support(weight))
        page, page_start, page_end = page_location(
            source, best.start, best.end, (page_spans or {}).get(source.document_id)
        )
        citations.append(
            Citation(
                n=number,
                chunk_id=source.chunk_id,
                document_id=source.document_id,
                filename=source.filename,
                page=page,
                page_char_start=page_start,
                page_char_end=page_end,
                span_start=best.start,
                span_end=best.end,
                quote=source.text[best.start : best.end],
                support=round(best.support(weight), 4),
                verdict="supported" if best.support(weight) >= threshold else "weak",
                claim=claim,
            )
        )
    return ResolvedCitations(citations=citations, dropped=dropped)
