"""`docent eval` on a small BEIR-layout dataset written by the test, and on SQuAD 2.0 (shared data)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from typer.testing import CliRunner

from api.cli import app
from ingest.settings import Settings
from tests.conftest import shared_data

CORPUS = {
    "d1": ("Volcanoes", "Mount Etna on Sicily is one of the most active volcanoes in Europe, erupting frequently."),
    "d2": ("Glaciers", "The Aletsch Glacier in the Swiss Alps is the largest glacier in the Alps, 23 kilometres long."),
    "d3": ("Rivers", "The Danube flows through ten countries before reaching the Black Sea in Romania."),
    "d4": ("Deserts", "The Atacama Desert in Chile is among the driest places on Earth, with almost no rainfall."),
}
QUERIES = {
    "q1": "Which glacier is the longest in the Alps?",
    "q2": "How many countries does the Danube cross?",
    "q3": "Where is a very dry desert?",
    "q4": "A query with no relevant document in the qrels",
}
QRELS = [("q1", "d2", 1), ("q2", "d3", 1), ("q3", "d4", 2), ("q4", "d1", 0)]


def test_beir_layout_end_to_end(tmp_path: Path, settings: Settings) -> None:
    dataset = tmp_path / "tinybeir"
    (dataset / "qrels").mkdir(parents=True)
    (dataset / "corpus.jsonl").write_text(
        "\n".join(json.dumps({"_id": i, "title": t, "text": x}) for i, (t, x) in CORPUS.items())
    )
    (dataset / "queries.jsonl").write_text("\n".join(json.dumps({"_id": i, "text": t}) for i, t in QUERIES.items()))
    (dataset / "qrels" / "test.tsv").write_text(
        "query-id\tcorpus-id\tscore\n" + "\n".join(f"{q}\t{d}\t{s}" for q, d, s in QRELS)
    )
    out = tmp_path / "report.json"
    env = {"DOCENT_DATA_DIR": str(settings.data_dir)}
    args = ["eval", "beir", "--questions", str(dataset / "qrels" / "test.tsv"), "--documents", str(dataset)]
    result = CliRunner().invoke(app, [*args, "--json", str(out)], env=env)
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["questions_used"] == 3 and report["questions_skipped"] == 1 and report["documents"] == 4
    for mode in ("dense", "keyword", "hybrid"):
        metrics = report["modes"][mode]
        assert metrics["doc_recall@5"] == 1.0, (mode, metrics)
        assert metrics["mrr@10"] >= 2 / 3, (mode, metrics)
        assert set(metrics) == {"doc_recall@5", "mrr@10", "ndcg@10", "latency_ms_p50", "latency_ms_p95"}
    again_out = tmp_path / "again.json"
    again = CliRunner().invoke(app, [*args, "--mode", "hybrid", "--json", str(again_out)], env=env)
    assert again.exit_code == 0, again.output
    rerun = json.loads(again_out.read_text())
    assert rerun["documents_new"] == 0 and rerun["documents"] == 4 and list(rerun["modes"]) == ["hybrid"]
    base_out = tmp_path / "baseline.json"
    based = CliRunner().invoke(app, [*args, "--mode", "dense", "--baseline", "--json", str(base_out)], env=env)
    assert based.exit_code == 0, based.output
    modes = json.loads(base_out.read_text())["modes"]
    assert list(modes) == ["dense", "recipe"] and modes["recipe"]["doc_recall@5"] == 1.0
    from sqlalchemy import text

    from ingest.db import build_catalog

    with build_catalog(settings)[1]() as session:  # the recipe's chunks carry no context
        contexts = session.execute(
            text("SELECT DISTINCT c.context FROM chunks c JOIN collections k ON k.id = c.collection_id "
                 "WHERE k.name = 'eval-beir-recipe'")
        ).scalars().all()  # fmt: skip
    assert contexts == [""]


def test_squad_answer_spans(tmp_path: Path, settings: Settings) -> None:
    questions = shared_data("qa", "squad_v2", "dev-v2.0.first5articles.dev.json")
    out = tmp_path / "squad.json"
    env = {"DOCENT_DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(
        app, ["eval", "squad", "--questions", str(questions), "--mode", "hybrid", "--json", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    assert report["documents"] == 5  # one per article
    assert report["questions_used"] + report["questions_skipped"] == 702
    hybrid = report["modes"]["hybrid"]
    assert hybrid["page_recall@10"] >= 0.9  # the chunk holding the answer span is retrieved
    assert 0 < hybrid["ndcg@10"] <= 1 and hybrid["mrr@10"] <= hybrid["page_recall@10"]


def test_squad_answers_end_to_end_on_a_split(tmp_path: Path, settings: Settings) -> None:
    """``--answers`` on a split written in the same format (the first article's first 8 paragraphs):
    every question is answered through the chat service, and the figures agree with the records."""
    full = json.loads(shared_data("qa", "squad_v2", "dev-v2.0.first5articles.dev.json").read_text())
    article = full["data"][0] | {"paragraphs": full["data"][0]["paragraphs"][:8]}
    split = tmp_path / "split.json"
    split.write_text(json.dumps({"version": full["version"], "data": [article]}))
    out = tmp_path / "answers.json"
    env = {"DOCENT_DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(
        app, ["eval", "squad", "--questions", str(split), "--answers", "--json", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    report = json.loads(out.read_text())
    records = report["answers"]
    asked = [qa for p in article["paragraphs"] for qa in p["qas"]]
    assert [r["qid"] for r in records] == [qa["id"] for qa in asked]
    answerable = [r for r in records if r["answerable"]]
    unanswerable = [r for r in records if not r["answerable"]]
    assert answerable and unanswerable
    assert report["refusal_rate_unanswerable"] == round(sum(r["refused"] for r in unanswerable) / len(unanswerable), 4)
    assert report["answer_rate_answerable"] >= 0.8
    assert report["answer_contains_gold"] >= 0.6
    for record in records:
        if record["refused"]:
            assert "could not find" in record["answer"] and not record["contains_gold"] and not record["citations"]
        else:
            assert re.search(r"\[\d+\]", record["answer"]), record  # extractive answers cite what they quote
            assert record["citations"] and all(c["quote"] in record["answer"] for c in record["citations"])
    assert 0 < report["server_ttft_ms_p50"] <= report["ttft_ms_p50"] <= report["ttft_ms_p95"]
    # the calibration curve, computed from each question's best sentence score, predicts what the
    # provider did end to end at its configured threshold
    at_default = next(
        p for p in report["extractive_calibration"]["curve"] if p["min_score"] == report["extractive_min_score"]
    )
    assert at_default["answer_rate_answerable"] == report["answer_rate_answerable"]
    assert at_default["refusal_rate_unanswerable"] == report["refusal_rate_unanswerable"]
    bad = CliRunner().invoke(app, ["eval", "sec10q", "--questions", str(split), "--answers"], env=env)
    assert bad.exit_code != 0 and "--answers needs the squad or financebench dataset" in bad.output
