"""Resolve ``[n]`` markers in an answer to passages, locate the supporting span, judge support.

Markers ``[n]``, ``[n, m]`` and ``[n][m]`` are read; a number with no passage is dropped and
counted. For each marker the claim is the answer sentence it closes; the span is the passage
sentence sharing the most content terms with it. Verdict: ``supported`` when at least
``SUPPORTED_OVERLAP`` of the claim's content terms occur in that span, else ``weak``.

Given the documents' page spans (``Document.page_spans``: each page's ``[start, end)`` in the
document text, which a chunk's ``char_start`` also indexes), the citation's ``page`` is the page the
span lies on and ``page_char_start``/``page_char_end`` locate it in that page's extracted text.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from api.chat.text import content_terms, overlap, sentence_spans
from api.schemas import Citation, Source

__all__ = [
    "MARKER",
    "SUPPORTED_OVERLAP",
    "ResolvedCitations",
    "page_location",
    "resolve_citations",
    "strip_markers",
]

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
    answer: str, sources: list[Source], page_spans: Mapping[str, Sequence[Sequence[int]]] | None = None
) -> ResolvedCitations:
    """Every valid ``[n]`` in ``answer`` as a ``Citation``, in order of appearance, de-duplicated.
    ``page_spans`` maps document ids to their page spans (module docstring)."""
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
            page, page_start, page_end = page_location(source, start, end, (page_spans or {}).get(source.document_id))
            citations.append(
                Citation(
                    n=number,
                    chunk_id=source.chunk_id,
                    document_id=source.document_id,
                    filename=source.filename,
                    page=page,
                    page_char_start=page_start,
                    page_char_end=page_end,
                    span_start=start,
                    span_end=end,
                    quote=source.text[start:end],
                    verdict="supported" if score >= SUPPORTED_OVERLAP else "weak",
                    claim=claim,
                )
            )
    return ResolvedCitations(citations=citations, dropped=dropped)
