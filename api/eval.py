"""Retrieval evaluation on public question sets with gold evidence (``docent eval``).

Datasets: ``financebench`` (Islam et al. 2023, arXiv:2311.11944; gold = document + 0-based page)
and ``sec10q`` (docugami KG-RAG SEC 10-Q set; gold = document-name globs). Metrics per mode:
``page_recall@k`` (a question counts when any of its top-k chunks lies on a gold page of a gold
document), ``doc_recall@5`` (any top-5 chunk from a gold document), ``mrr@10`` (reciprocal rank of
the first gold-page hit), ``ndcg@10`` (binary page relevance, Järvelin & Kekäläinen 2002), and the
retriever's latency percentiles.
"""

from __future__ import annotations

import csv
import fnmatch
import json
import math
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.retrieval import Retriever
from api.schemas import RetrievalMode, RetrievedChunk

__all__ = ["EvalQuestion", "evaluate", "load_financebench", "load_sec10q"]


@dataclass
class EvalQuestion:
    """A question with gold documents (file stems or globs) and, where known, gold pages
    (``(stem, 1-based page)``)."""

    qid: str
    question: str
    gold_docs: list[str]
    gold_pages: set[tuple[str, int]] = field(default_factory=set)


def load_financebench(questions: Path, documents: Path) -> tuple[list[EvalQuestion], int]:
    """Questions whose evidence PDFs are all in ``documents``; returns (usable, skipped)."""
    present = {p.stem for p in documents.glob("*.pdf")}
    usable: list[EvalQuestion] = []
    skipped = 0
    for line in questions.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        row = json.loads(line)
        docs = {e["doc_name"] for e in row["evidence"]} | {row["doc_name"]}
        if not docs <= present:
            skipped += 1
            continue
        pages = {(e["doc_name"], int(e["evidence_page_num"]) + 1) for e in row["evidence"]}
        usable.append(EvalQuestion(row["financebench_id"], row["question"], sorted(docs), pages))
    return usable, skipped


def load_sec10q(questions: Path, documents: Path) -> tuple[list[EvalQuestion], int]:
    """Questions of the SEC 10-Q set; gold documents are the ``Source Docs`` globs."""
    present = [p.stem for p in documents.glob("*.pdf")]
    usable: list[EvalQuestion] = []
    skipped = 0
    with questions.open(encoding="utf-8", newline="") as handle:
        for i, row in enumerate(csv.DictReader(handle)):
            globs = [g.strip().removesuffix(".pdf") for g in row["Source Docs"].split(",") if g.strip()]
            if not any(fnmatch.fnmatch(stem, g) for g in globs for stem in present):
                skipped += 1
                continue
            usable.append(EvalQuestion(f"sec10q-{i}", row["Question"], globs))
    return usable, skipped


def _doc_hit(result: RetrievedChunk, question: EvalQuestion) -> bool:
    stem = Path(result.filename).stem
    return any(fnmatch.fnmatch(stem, g) for g in question.gold_docs)


def _page_hit(result: RetrievedChunk, question: EvalQuestion) -> bool:
    stem = Path(result.filename).stem
    return any((stem, page) in question.gold_pages for page in range(result.page_start, result.page_end + 1))


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def evaluate(
    retriever: Retriever, questions: Sequence[EvalQuestion], *, mode: RetrievalMode, collection: str | None
) -> dict[str, Any]:
    """Metrics of ``mode`` over ``questions`` (see the module docstring for definitions)."""
    has_pages = any(q.gold_pages for q in questions)
    latencies: list[float] = []
    page5 = page10 = doc5 = 0
    rr: list[float] = []
    ndcg: list[float] = []
    for question in questions:
        started = time.perf_counter()
        results = retriever.retrieve(question.question, k=10, mode=mode, collection=collection).results
        latencies.append((time.perf_counter() - started) * 1000)
        doc5 += any(_doc_hit(r, question) for r in results[:5])
        if not has_pages:
            continue
        hits = [_page_hit(r, question) for r in results[:10]]
        page5 += any(hits[:5])
        page10 += any(hits)
        rr.append(next((1 / (i + 1) for i, hit in enumerate(hits) if hit), 0.0))
        dcg = sum(1 / math.log2(i + 2) for i, hit in enumerate(hits) if hit)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(question.gold_pages))))
        ndcg.append(dcg / ideal if ideal else 0.0)
    n = max(1, len(questions))
    metrics: dict[str, Any] = {"doc_recall@5": round(doc5 / n, 4)}
    if has_pages:
        metrics |= {
            "page_recall@5": round(page5 / n, 4),
            "page_recall@10": round(page10 / n, 4),
            "mrr@10": round(statistics.fmean(rr), 4) if rr else 0.0,
            "ndcg@10": round(statistics.fmean(ndcg), 4) if ndcg else 0.0,
        }
    metrics |= {
        "latency_ms_p50": round(_percentile(latencies, 0.5), 2),
        "latency_ms_p95": round(_percentile(latencies, 0.95), 2),
    }
    return metrics
