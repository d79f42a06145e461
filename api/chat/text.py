"""Sentence splitting and term overlap, shared by the extractive provider and citation checks."""

from __future__ import annotations

import re

from ingest.index import STOP_WORDS

__all__ = ["content_terms", "overlap", "sentence_spans"]

# A sentence ends at . ! ? (optionally closed by a quote or bracket) before whitespace and an
# upper-case letter, digit or opening quote/bracket; blank lines and line-leading bullets end one too.
_BOUNDARY = re.compile(r"(?<=[.!?])[\"')\]]?\s+(?=[\"'(\[A-Z0-9•\-])|\n\s*\n|\n(?=\s*[•\-*]\s)")
_TERM = re.compile(r"[^\W_]+", re.UNICODE)


# A short line without closing punctuation followed by a line starting upper-case is a heading
# or a table row in PDF text (wrapped prose lines run close to the full width, ~70+ characters).
_HEADING_LINE = re.compile(r"(?m)^[^\n]{1,60}[^\s.,;:!?\-]\n(?=[A-Z0-9•])")


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """``[start, end)`` of each sentence of ``text``, whitespace trimmed, empty ones skipped.

    Boundaries: sentence punctuation before a capital, blank lines, bullets, and the end of a short
    unpunctuated line (a heading) before a capitalised line."""
    cuts = sorted(
        {(m.start(), m.end()) for m in _BOUNDARY.finditer(text)}
        | {(m.end() - 1, m.end()) for m in _HEADING_LINE.finditer(text)}
    )
    spans: list[tuple[int, int]] = []
    cursor = 0
    for start, end in cuts:
        if start < cursor:
            continue
        spans.append((cursor, start))
        cursor = end
    spans.append((cursor, len(text)))
    trimmed: list[tuple[int, int]] = []
    for start, end in spans:
        while start < end and text[start].isspace():
            start += 1
        while end > start and text[end - 1].isspace():
            end -= 1
        if end > start:
            trimmed.append((start, end))
    return trimmed


def content_terms(text: str) -> set[str]:
    """Lower-cased words without stop words, crudely stemmed to their first 6 letters."""
    return {t[:6] for t in _TERM.findall(text.lower()) if t not in STOP_WORDS}


def overlap(claim: set[str], evidence: set[str]) -> float:
    """Fraction of the claim's terms found in the evidence (0 when the claim has none)."""
    if not claim:
        return 0.0
    return len(claim & evidence) / len(claim)
