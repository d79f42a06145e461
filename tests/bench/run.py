"""`make bench`: ingest, retrieval and chat figures on the real SEC 10-Q filings (../shared/data).

1. `docent ingest` of the 20 filings into a fresh data dir: wall time, pages, chunks, pages/s,
   chunks/s, peak RSS of the process tree; then the rerun (all duplicates).
2. `docent eval sec10q` on that index (doc_recall@5 per mode).
3. A real server on that data dir: `/api/retrieve` latency over HTTP (hybrid, p50/p95) for the 97
   questions, and chat time to first token (POST → first `text-delta`), p50/p95, extractive
   provider, plus the server's own retrieval+prompt time.
4. Ingest speed side by side (``tests/bench/ingest_compare.py``): docent, embed-only and the
   LangChain recipe on the 20 SEC filings plus 10 FinanceBench filings.
5. Answers and refusals: `docent eval squad --answers` on the SQuAD 2.0 dev half (extractive
   provider: refusal and answer rates, gold answer contained, time to first token, the
   calibration curve) and the citation verdict's calibration (``tests/bench/citation_calibration``).
6. With BENCH_FINANCEBENCH=1 (≈1 h on 2 cores): `docent eval financebench` over all 74 filings in
   one collection.

Writes `.bench/results.json` and prints it.
"""

from __future__ import annotations

import csv
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from api.eval import percentile
from tests.fixtures.server import docent_server

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("DOCENT_SHARED_DATA", REPO.parent / "shared" / "data"))
SEC = SHARED / "qa" / "docugami_sec10q"
FIN = SHARED / "qa" / "financebench"
DOCENT = str(Path(sys.executable).parent / "docent")


def _p50_p95(values: list[float]) -> dict[str, float]:
    """Median and 95th percentile (``api.eval.percentile``), rounded to 0.1, and the count."""
    return {"p50": round(percentile(values, 0.5), 1), "p95": round(percentile(values, 0.95), 1), "n": len(values)}


def _docent(args: list[str], data_dir: Path) -> tuple[float, str]:
    env = os.environ | {"DOCENT_DATA_DIR": str(data_dir)}
    started = time.perf_counter()
    out = subprocess.run([DOCENT, *args], env=env, capture_output=True, text=True, check=False)
    if out.returncode not in (0, 1):
        raise RuntimeError(out.stderr[-2000:])
    return time.perf_counter() - started, out.stdout


def bench_ingest(data_dir: Path) -> dict[str, Any]:
    seconds, stdout = _docent(["ingest", str(SEC / "docs"), "--json"], data_dir)
    summary = json.loads(stdout)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    pages = sum(f["pages"] or 0 for f in summary["files"])
    chunks = sum(f["chunks"] or 0 for f in summary["files"])
    rerun_s, rerun_out = _docent(["ingest", str(SEC / "docs"), "--json"], data_dir)
    return {
        "files": len(summary["files"]),
        "counts": summary["counts"],
        "wall_s": round(seconds, 1),
        "pages": pages,
        "chunks": chunks,
        "pages_per_s": round(pages / seconds, 2),
        "chunks_per_s": round(chunks / seconds, 2),
        "peak_rss_mb": round(peak_kb / 1024),
        "rerun_wall_s": round(rerun_s, 2),
        "rerun_counts": json.loads(rerun_out)["counts"],
    }


def bench_server(data_dir: Path) -> dict[str, Any]:
    with (
        docent_server(data_dir, {"DOCENT_LLM_PROVIDER": "extractive"}) as server,
        httpx.Client(base_url=server.url, timeout=60) as client,
    ):
        with (SEC / "qna_data.dev.csv").open(newline="", encoding="utf-8") as handle:
            questions = [row["Question"] for row in csv.DictReader(handle)]
        client.post("/api/retrieve", json={"query": "warm up"})
        latencies = []
        for q in questions:
            started = time.perf_counter()
            response = client.post("/api/retrieve", json={"query": q, "k": 8})
            latencies.append((time.perf_counter() - started) * 1000)
            response.raise_for_status()
        ttft, server_prompt = [], []
        for q in questions[:25]:
            started = time.perf_counter()
            first = None
            with client.stream("POST", "/api/chat", json={"message": q}) as response:
                for line in response.iter_lines():
                    if not line.startswith("data: ") or line == "data: [DONE]":
                        continue
                    part = json.loads(line[6:])
                    if part["type"] == "text-delta" and first is None:
                        first = (time.perf_counter() - started) * 1000
                    if part["type"] == "finish":
                        server_prompt.append(part["messageMetadata"]["timingsMs"]["prompt_ready"])
            if first is not None:
                ttft.append(first)
    return {
        "retrieve_hybrid_http_ms": _p50_p95(latencies),
        "chat_ttft_ms_extractive": _p50_p95(ttft),
        "chat_server_retrieval_and_prompt_ms": _p50_p95(server_prompt)
        | {"mean": round(statistics.fmean(server_prompt), 1)},
    }


def main() -> None:
    if not SEC.exists():
        sys.exit(f"needs {SEC} (the shared real-document corpus)")
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="docent-bench-") as tmp:
        data_dir = Path(tmp)
        results["sec10q_ingest"] = bench_ingest(data_dir)
        eval_json = data_dir / "sec_eval.json"
        _docent(
            [
                "eval",
                "sec10q",
                "--questions",
                str(SEC / "qna_data.dev.csv"),
                "--documents",
                str(SEC / "docs"),
                "--collection",
                "default",
                "--json",
                str(eval_json),
            ],
            data_dir,
        )
        results["sec10q_eval"] = json.loads(eval_json.read_text())["modes"]
        results["sec10q_serving"] = bench_server(data_dir)
    with tempfile.TemporaryDirectory(prefix="docent-bench-squad-") as tmp:
        out = Path(tmp) / "squad.json"
        squad = SHARED / "qa" / "squad_v2" / "dev-v2.0.first5articles.dev.json"
        _docent(["eval", "squad", "--questions", str(squad), "--answers", "--json", str(out)], Path(tmp))
        answers = json.loads(out.read_text())
        results["squad_answers"] = {k: v for k, v in answers.items() if k != "answers"}
    from tests.bench import citation_calibration, ingest_compare

    results["citation_calibration"] = citation_calibration.main()
    results["ingest_compare"] = ingest_compare.main()
    if os.environ.get("BENCH_FINANCEBENCH") == "1":
        with tempfile.TemporaryDirectory(prefix="docent-bench-fb-") as tmp:
            out = Path(tmp) / "fb.json"
            _docent(
                [
                    "eval",
                    "financebench",
                    "--questions",
                    str(FIN / "financebench_open_source.dev.jsonl"),
                    "--documents",
                    str(FIN / "pdfs"),
                    "--json",
                    str(out),
                ],
                Path(tmp),
            )
            results["financebench_eval"] = json.loads(out.read_text())
    target = REPO / ".bench" / "results.json"
    target.parent.mkdir(exist_ok=True)
    target.write_text(json.dumps(results, indent=2) + "\n")
    sys.stdout.write(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
