"""The extractive provider: answers with sentences quoted from the retrieved passages.

No LLM. Each passage is split into sentences; a sentence scores
``0.7 · cos(query, sentence) + 0.3 · term overlap`` (MiniLM embeddings, the same model as
retrieval). When the best score is below ``min_score`` it refuses; otherwise it quotes up to
``max_sentences`` sentences scoring within ``RELATIVE_CUTOFF`` of the best, in document order, each
cited by construction with its passage number. Before the text it reports its best score as a
``Confidence`` event (answer or refusal alike), which ``docent eval`` uses to calibrate
``min_score``.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncGenerator
from dataclasses import dataclass

import numpy as np

from api.chat.prompt import REFUSAL, GenerationRequest, standalone_query
from api.chat.providers import Confidence, TextDelta
from api.chat.text import content_terms, overlap, sentence_spans
from api.schemas import Source
from ingest.embeddings import Embedder

__all__ = ["ExtractiveProvider"]

RELATIVE_CUTOFF = 0.85
#: Seconds between streamed words, so a quoted answer reads as it arrives rather than in one jump.
STREAM_PACE_S = 0.012
MIN_WORDS = 4
MAX_SENTENCE_CHARS = 600
_TOKEN = re.compile(r"\S+\s*")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class _Candidate:
    n: int
    start: int
    text: str
    score: float


class ExtractiveProvider:
    name = "extractive"
    model = "extractive-minilm"

    def __init__(
        self, embedder: Embedder, *, min_score: float = 0.45, max_sentences: int = 3, pace_s: float = STREAM_PACE_S
    ) -> None:
        self.embedder = embedder
        self.min_score = min_score
        self.max_sentences = max_sentences
        self.pace_s = pace_s

    async def aclose(self) -> None:
        """Nothing to release."""

    async def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        """The documented heuristic (``standalone_query``): no LLM to ask."""
        return standalone_query(question, [content for role, content in history if role == "user"])

    def candidates(self, question: str, sources: list[Source]) -> list[_Candidate]:
        """Every usable sentence of ``sources`` with its score, best first."""
        found: list[tuple[int, int, str]] = []
        for source in sources:
            for start, end in sentence_spans(source.text):
                sentence = _SPACE.sub(" ", source.text[start:end]).strip()
                if len(sentence.split()) >= MIN_WORDS and len(sentence) <= MAX_SENTENCE_CHARS:
                    found.append((source.n, start, sentence))
        if not found:
            return []
        query = np.asarray(self.embedder.embed_query(question))
        vectors = np.asarray(self.embedder.embed([s for _, _, s in found]))
        similarity = vectors @ query
        q_terms = content_terms(question)
        scored = [
            _Candidate(n, start, text, float(0.7 * sim + 0.3 * overlap(q_terms, content_terms(text))))
            for (n, start, text), sim in zip(found, similarity, strict=True)
        ]
        return sorted(scored, key=lambda c: c.score, reverse=True)

    def compose(self, question: str, sources: list[Source]) -> tuple[str, float | None]:
        """The answer text (quoted sentences with ``[n]`` markers, or the refusal) and the best
        sentence's score (None when no sentence is usable)."""
        ranked = self.candidates(question, sources)
        if not ranked:
            return REFUSAL, None
        if ranked[0].score < self.min_score:
            return REFUSAL, ranked[0].score
        floor = max(self.min_score, ranked[0].score * RELATIVE_CUTOFF)
        chosen: list[_Candidate] = []
        for cand in ranked:
            if cand.score < floor or len(chosen) == self.max_sentences:
                break
            if any(cand.text == c.text for c in chosen):
                continue
            chosen.append(cand)
        chosen.sort(key=lambda c: (c.n, c.start))
        parts = []
        for cand in chosen:
            text = cand.text.rstrip()
            parts.append(f"{text} [{cand.n}]")
        return " ".join(parts), ranked[0].score

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[Confidence | TextDelta, None]:
        answer, best = await asyncio.to_thread(self.compose, request.question, request.sources)
        if best is not None:
            yield Confidence(best)
        for token in _TOKEN.findall(answer):
            yield TextDelta(token)
            await asyncio.sleep(self.pace_s)
