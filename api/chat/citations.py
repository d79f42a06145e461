"""Resolve ``[n]`` markers in an answer to passages, locate the supporting span, judge support.

Markers ``[n]``, ``[n, m]`` and ``[n][m]`` are read; a number with no passage is dropped and
counted. For each marker the claim is the answer sentence it closes; the span is the passage
sentence sharing the most content terms with it. Verdict: ``supported`` when at least
``SUPPORTED_OVERLAP`` of the claim's content terms occur in that span, else ``weak``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from api.chat.text import content_terms, overlap, sentence_spans
from api.schemas import Citation, Source

__all__ = ["MARKER", "SUPPORTED_OVERLAP", "ResolvedCitations", "resolve_citations", "strip_markers"]

MARKER = re.compile(r"\[(\d{1,3}(?:\s*,\s*\d{1,3})*)\]")
SUPPORTED_OVERLAP = 0.5


@dataclass
class ResolvedCitations:
    citations: list[Citation]
    dropped: int


def strip_markers(text: str) -> str:
    """``text`` without citation markers."""
    return MARKER.sub("", text)


def _claim_before(answer: str, position: int) -> str:
    prefix = strip_markers(answer[:position]).rstrip()
    spans = sentence_spans(prefix)
    return prefix[spans[-1][0] : spans[-1][1]] if spans else ""


def _best_span(claim: str, source: Source) -> tuple[int, int, float]:
    claim_terms = content_terms(claim)
    best = (0, len(source.text), 0.0)
    for start, end in sentence_spans(source.text):
        score = overlap(claim_terms, content_terms(source.text[start:end]))
        if score > best[2]:
            best = (start, end, score)
    return best


def resolve_citations(answer: str, sources: list[Source]) -> ResolvedCitations:
    """Every valid ``[n]`` in ``answer`` as a ``Citation``, in order of appearance, de-duplicated."""
    by_n = {s.n: s for s in sources}
    citations: list[Citation] = []
    seen: set[tuple[int, str]] = set()
    dropped = 0
    for match in MARKER.finditer(answer):
        claim = _claim_before(answer, match.start())
        for number in (int(x) for x in match.group(1).split(",")):
            source = by_n.get(number)
            if source is None:
                dropped += 1
                continue
            if (number, claim) in seen:
                continue
            seen.add((number, claim))
            start, end, score = _best_span(claim, source)
            citations.append(
                Citation(
                    n=number,
                    chunk_id=source.chunk_id,
                    document_id=source.document_id,
                    filename=source.filename,
                    page=source.page_start,
                    span_start=start,
                    span_end=end,
                    quote=source.text[start:end],
                    verdict="supported" if score >= SUPPORTED_OVERLAP else "weak",
                    claim=claim,
                )
            )
    return ResolvedCitations(citations=citations, dropped=dropped)
