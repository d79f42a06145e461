"""Retrieval evaluation on public question sets with gold evidence (``docent eval``).

Datasets and their gold:
- ``financebench`` (Islam et al. 2023, arXiv:2311.11944): document + page.
- ``sec10q`` (docugami KG-RAG SEC 10-Q set): document-name globs.
- ``squad`` (SQuAD 2.0, Rajpurkar et al. 2018): one text document per article, written from the
  JSON itself; gold = the answer's character span (a chunk counts when it contains it).
  Unanswerable questions have no gold and are skipped here.
- ``beir`` (Thakur et al. 2021 layout: corpus.jsonl, queries.jsonl, qrels/*.tsv): one text
  document per corpus entry; gold = documents with a positive qrel.

With ``--answers`` (``evaluate_answers``; squad and financebench), every question is answered end to
end by the chat service (retrieval, refusal gate, provider, citations; nothing stored):
``refusal_rate_unanswerable`` (squad: an answer to an unanswerable question is a failure),
``answer_rate_answerable``, ``answer_contains_gold`` (squad: answered answerable questions whose
answer holds a gold answer as whole words after the official SQuAD normalisation: lower case, no
punctuation, articles or extra spaces), ``citation_supported_share`` and, with gold pages
(financebench), ``citation_gold_page_share``, and time to first token, ``ttft_ms`` (to the first
token, provider included) and ``server_ttft_ms`` (retrieval and prompt: what docent adds before
the model is called).

Metrics per mode: ``page_recall@k`` (any of the top-k chunks is relevant: on a gold page, or
containing the gold span), ``doc_recall@5`` (any top-5 chunk from a gold document), ``mrr@10``,
``ndcg@10`` (binary relevance, Järvelin & Kekäläinen 2002) and the retriever's latency percentiles.
"""

from __future__ import annotations

import asyncio
import csv
import fnmatch
import glob
import json
import math
import re
import statistics
import string
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from api.chat.citations import strip_markers
from api.chat.service import Answer, ChatService
from api.retrieval import Retriever
from api.schemas import RetrievalMode, RetrievedChunk

__all__ = [
    "AnswerQuestion",
    "EvalQuestion",
    "as_answer_questions",
    "contains_answer",
    "evaluate",
    "evaluate_answers",
    "extractive_curve",
    "load_beir",
    "load_financebench",
    "load_sec10q",
    "load_squad",
    "load_squad_answers",
    "normalize_answer",
    "percentile",
    "run_answers",
]


@dataclass
class EvalQuestion:
    """A question with gold documents (file stems or globs) and, where known, gold pages
    (``(stem, 1-based page)``)."""

    qid: str
    question: str
    gold_docs: list[str]
    gold_pages: set[tuple[str, int]] = field(default_factory=set)
    #: ``(stem, start, end)``: character spans in the document's text that answer the question
    gold_spans: set[tuple[str, int, int]] = field(default_factory=set)


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


SQUAD_SEPARATOR = "\n\n"


def _safe_stem(name: str) -> str:
    return re.sub(r"[^\w.-]+", "_", name).strip("._") or "doc"


def load_squad(questions: Path, materialize: Path) -> tuple[list[EvalQuestion], int]:
    """SQuAD v2 JSON: each article is written to ``materialize/<title>.txt`` (paragraphs joined by
    a blank line); returns the answerable questions with their answer spans, and the number of
    unanswerable ones skipped."""
    data = json.loads(questions.read_text(encoding="utf-8"))["data"]
    materialize.mkdir(parents=True, exist_ok=True)
    usable: list[EvalQuestion] = []
    skipped = 0
    for article in data:
        stem = _safe_stem(article["title"])
        offset = 0
        texts = []
        for paragraph in article["paragraphs"]:
            context = paragraph["context"]
            for qa in paragraph["qas"]:
                if qa.get("is_impossible") or not qa["answers"]:
                    skipped += 1
                    continue
                spans = {
                    (stem, offset + a["answer_start"], offset + a["answer_start"] + len(a["text"]))
                    for a in qa["answers"]
                }
                usable.append(EvalQuestion(qa["id"], qa["question"], [glob.escape(stem)], gold_spans=spans))
            texts.append(context)
            offset += len(context) + len(SQUAD_SEPARATOR)
        target = materialize / f"{stem}.txt"
        body = SQUAD_SEPARATOR.join(texts)
        if not target.exists() or target.read_text(encoding="utf-8") != body:
            target.write_text(body, encoding="utf-8")
    return usable, skipped


@dataclass
class AnswerQuestion:
    """A question for end-to-end answering: whether the documents answer it, the gold answer
    texts where they are spans of the documents (SQuAD), and the gold ``(stem, page)`` evidence
    pages where known (FinanceBench)."""

    qid: str
    question: str
    answerable: bool
    answers: list[str] = field(default_factory=list)
    gold_pages: set[tuple[str, int]] = field(default_factory=set)


def as_answer_questions(questions: Sequence[EvalQuestion]) -> list[AnswerQuestion]:
    """Retrieval questions (all answerable by the dataset's construction) for ``evaluate_answers``."""
    return [AnswerQuestion(q.qid, q.question, answerable=True, gold_pages=set(q.gold_pages)) for q in questions]


def load_squad_answers(questions: Path) -> list[AnswerQuestion]:
    """Every question of a SQuAD v2 JSON file, answerable or not, in file order."""
    data = json.loads(questions.read_text(encoding="utf-8"))["data"]
    return [
        AnswerQuestion(
            qa["id"],
            qa["question"],
            answerable=not qa.get("is_impossible") and bool(qa["answers"]),
            answers=sorted({a["text"] for a in qa["answers"]}),
        )
        for article in data
        for paragraph in article["paragraphs"]
        for qa in paragraph["qas"]
    ]


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """The official SQuAD evaluation script's normalisation: lower case, punctuation and the
    articles a/an/the removed, whitespace collapsed."""
    return " ".join(_ARTICLES.sub(" ", text.lower().translate(_PUNCTUATION)).split())


def contains_answer(normalized_answer: str, golds: Sequence[str]) -> bool:
    """Whether any gold answer occurs in the (normalised) answer as whole words: "1" is not found
    in "1990"; a gold answer that normalises to nothing ("the") counts for nothing."""
    padded = f" {normalized_answer} "
    return any(gold and f" {gold} " in padded for gold in map(normalize_answer, golds))


async def evaluate_answers(
    service: ChatService, questions: Sequence[AnswerQuestion], *, collection: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Answer every question through ``service.answer`` (nothing is stored) and score refusals,
    answers, citations and time to first token (module docstring). Returns (metrics, one record per
    question: ``qid``, ``question``, ``answerable``, ``refused``, ``contains_gold``, ``ttft_ms``,
    ``answer``, ``citations``). Citation metrics: ``citation_supported_share`` (citations judged
    supported) and, where gold pages are known, ``citation_gold_page_share`` (citations on a gold
    evidence page)."""
    from api.chat.providers.extractive import ExtractiveProvider

    extractive = service.provider if isinstance(service.provider, ExtractiveProvider) else None
    records: list[dict[str, Any]] = []
    for question in questions:
        state = Answer()
        started = time.perf_counter()
        async for _ in service.answer(question.question, [], state, collection=collection, started=started):
            pass
        answer = normalize_answer(strip_markers(state.text))
        refused = state.refused
        records.append(
            {
                "qid": question.qid,
                "question": question.question,
                "answerable": question.answerable,
                "refused": refused,
                "contains_gold": not refused and contains_answer(answer, question.answers),
                "ttft_ms": state.timings.get("ttft", 0.0),
                "server_ttft_ms": state.timings.get("prompt_ready", 0.0),
                "best_similarity": state.best_similarity,
                "extractive_score": state.confidence if extractive is not None else None,
                "answer": state.text,
                "citations": [
                    c.model_dump(include={"n", "filename", "page", "claim", "quote", "verdict"})
                    | {"gold_page": (Path(c.filename).stem, c.page) in question.gold_pages}
                    for c in state.citations
                ],
            }
        )
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    answered = [r for r in answerable if not r["refused"]]
    ttft = [r["ttft_ms"] for r in records]
    server = [r["server_ttft_ms"] for r in records]
    metrics: dict[str, Any] = {
        "questions_answerable": len(answerable),
        "questions_unanswerable": len(unanswerable),
        "refusal_rate_unanswerable": _rate(sum(r["refused"] for r in unanswerable), len(unanswerable)),
        "answer_rate_answerable": _rate(len(answered), len(answerable)),
        "answer_contains_gold": _rate(sum(r["contains_gold"] for r in answered), len(answered)),
        "citations": len(cited := [c for r in records for c in r["citations"]]),
        "citation_supported_share": _rate(sum(c["verdict"] == "supported" for c in cited), len(cited)),
        "ttft_ms_p50": round(percentile(ttft, 0.5), 2),
        "ttft_ms_p95": round(percentile(ttft, 0.95), 2),
        "server_ttft_ms_p50": round(percentile(server, 0.5), 2),
        "server_ttft_ms_p95": round(percentile(server, 0.95), 2),
    }
    if any(q.gold_pages for q in questions):
        metrics["citation_gold_page_share"] = _rate(sum(c["gold_page"] for c in cited), len(cited))
    if not any(q.answers for q in questions):
        del metrics["answer_contains_gold"]  # no gold answer spans to look for
    if not unanswerable:
        del metrics["refusal_rate_unanswerable"]
    if extractive is not None:
        metrics["extractive_min_score"] = extractive.min_score
        if unanswerable:  # the calibration trades refusals of these against answers
            metrics["extractive_calibration"] = extractive_curve(records)
    return metrics, records


#: Candidate values of ``extractive_min_score`` tried by the calibration.
CALIBRATION_THRESHOLDS = [round(0.30 + 0.025 * i, 3) for i in range(17)]
#: The answer rate on answerable questions the calibration must keep (issue #5's target).
CALIBRATION_MIN_ANSWER_RATE = 0.90


def extractive_curve(records: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Refusal and answer rates had ``extractive_min_score`` been each of
    ``CALIBRATION_THRESHOLDS`` (a question refused by the retrieval gate stays refused), and the
    calibrated choice: the threshold refusing the most unanswerable questions while answering at
    least ``CALIBRATION_MIN_ANSWER_RATE`` of the answerable ones."""
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]

    def answers(record: dict[str, Any], threshold: float) -> bool:
        return record["extractive_score"] is not None and record["extractive_score"] >= threshold

    curve = [
        {
            "min_score": t,
            "answer_rate_answerable": _rate(sum(answers(r, t) for r in answerable), len(answerable)),
            "refusal_rate_unanswerable": _rate(sum(not answers(r, t) for r in unanswerable), len(unanswerable)),
        }
        for t in CALIBRATION_THRESHOLDS
    ]
    keeping = [p for p in curve if p["answer_rate_answerable"] >= CALIBRATION_MIN_ANSWER_RATE]
    chosen = max(keeping, key=lambda p: (p["refusal_rate_unanswerable"], p["min_score"])) if keeping else None
    return {"curve": curve, "chosen": chosen}


def run_answers(
    service: ChatService, questions: Sequence[AnswerQuestion], *, collection: str | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``evaluate_answers`` from synchronous code; closes the provider afterwards (in the same
    event loop its client ran in)."""

    async def run() -> tuple[dict[str, Any], list[dict[str, Any]]]:
        try:
            return await evaluate_answers(service, questions, collection=collection)
        finally:
            await service.provider.aclose()

    return asyncio.run(run())


def _rate(count: int, total: int) -> float:
    return round(count / total, 4) if total else 0.0


def load_beir(qrels: Path, dataset: Path, materialize: Path) -> tuple[list[EvalQuestion], int]:
    """A BEIR dataset folder (``corpus.jsonl``, ``queries.jsonl``) and one qrels split (TSV:
    query-id, corpus-id, score). Corpus entries are written to ``materialize/<id>.txt`` (title, a
    blank line, text); queries without a positive qrel are skipped."""
    materialize.mkdir(parents=True, exist_ok=True)
    with (dataset / "corpus.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                doc = json.loads(line)
                target = materialize / f"{_safe_stem(str(doc['_id']))}.txt"
                body = f"{doc.get('title') or ''}\n\n{doc['text']}".strip()
                if body and not target.exists():
                    target.write_text(body, encoding="utf-8")
    queries = {}
    with (dataset / "queries.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                queries[str(row["_id"])] = row["text"]
    gold: dict[str, list[str]] = {}
    with qrels.open(encoding="utf-8", newline="") as handle:
        for row in csv.reader(handle, delimiter="\t"):
            if len(row) < 3 or not row[2].strip().lstrip("-").isdigit():
                continue  # the header
            if int(row[2]) > 0:
                gold.setdefault(row[0], []).append(glob.escape(_safe_stem(row[1])))
    usable = [EvalQuestion(qid, queries[qid], docs) for qid, docs in gold.items() if qid in queries]
    return usable, len(queries) - len(usable)


def _doc_hit(result: RetrievedChunk, question: EvalQuestion) -> bool:
    stem = Path(result.filename).stem
    return any(fnmatch.fnmatch(stem, g) for g in question.gold_docs)


def _gold_units(result: RetrievedChunk, question: EvalQuestion) -> set[object]:
    """The gold units ``result`` matches: spans it contains or pages it lies on where the dataset
    has them, else gold documents (as their patterns)."""
    stem = Path(result.filename).stem
    if question.gold_spans:  # annotators' spans are alternatives: containing any one answers it
        contained = any(
            s == stem and result.char_start <= a and b <= result.char_end for s, a, b in question.gold_spans
        )
        return {"answer"} if contained else set()
    if question.gold_pages:
        pages: set[object] = {(stem, p) for p in range(result.page_start, result.page_end + 1)}
        return pages & set(question.gold_pages)
    return {g for g in question.gold_docs if fnmatch.fnmatch(stem, g)}


def _first_hits(results: Sequence[RetrievedChunk], question: EvalQuestion) -> list[bool]:
    """Per result, whether it matches a gold unit no earlier result matched (so nDCG ≤ 1)."""
    seen: set[object] = set()
    hits = []
    for result in results:
        new = _gold_units(result, question) - seen
        seen |= new
        hits.append(bool(new))
    return hits


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q`` quantile of ``values`` by the nearest-rank method (0.0 for no values)."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def evaluate(
    retriever: Retriever,
    questions: Sequence[EvalQuestion],
    *,
    mode: RetrievalMode,
    collection: str | None,
    one_per_page: bool = True,
) -> dict[str, Any]:
    """Metrics of ``mode`` over ``questions`` (see the module docstring for definitions);
    ``one_per_page=False`` scores the plain top-k (the recipe baseline)."""
    fine = any(q.gold_pages or q.gold_spans for q in questions)
    latencies: list[float] = []
    page5 = page10 = doc5 = 0
    rr: list[float] = []
    ndcg: list[float] = []
    for question in questions:
        started = time.perf_counter()
        results = retriever.retrieve(
            question.question, k=10, mode=mode, collection=collection, one_per_page=one_per_page
        ).results
        latencies.append((time.perf_counter() - started) * 1000)
        doc5 += any(_doc_hit(r, question) for r in results[:5])
        hits = _first_hits(results[:10], question)
        page5 += any(hits[:5])
        page10 += any(hits)
        rr.append(next((1 / (i + 1) for i, hit in enumerate(hits) if hit), 0.0))
        relevant = 1 if question.gold_spans else len(question.gold_pages) or len(question.gold_docs)
        dcg = sum(1 / math.log2(i + 2) for i, hit in enumerate(hits) if hit)
        ideal = sum(1 / math.log2(i + 2) for i in range(min(10, max(1, relevant))))
        ndcg.append(dcg / ideal)
    n = max(1, len(questions))
    metrics: dict[str, Any] = {}
    if fine:
        metrics |= {"page_recall@5": round(page5 / n, 4), "page_recall@10": round(page10 / n, 4)}
    metrics |= {
        "doc_recall@5": round(doc5 / n, 4),
        "mrr@10": round(statistics.fmean(rr), 4) if rr else 0.0,
        "ndcg@10": round(statistics.fmean(ndcg), 4) if ndcg else 0.0,
        "latency_ms_p50": round(percentile(latencies, 0.5), 2),
        "latency_ms_p95": round(percentile(latencies, 0.95), 2),
    }
    return metrics
