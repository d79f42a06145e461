"""Ingest speed side by side on the 20 SEC 10-Q filings plus the first 10 FinanceBench filings
(by name), each measured in its own process (wall time; peak RSS by ``/usr/bin/time``):

1. ``docent ingest`` into a fresh data dir: wall time, pages/s, chunks/s, peak RSS.
2. parse-only: the same files parsed and chunked one after another, as docent parses them.
3. embed-only: exactly the inputs docent embedded (context + chunk text, read back from its
   catalog) through the same ``LocalOnnxEmbedder``, a document per call as docent embeds them,
   timing the embedding alone — the floor on this machine.
4. the recipe users start from: ``PyPDFLoader`` → ``RecursiveCharacterTextSplitter(1000, 200)`` →
   ``Chroma.from_documents``, with the same model (docent's ONNX embedder behind LangChain's
   ``Embeddings`` interface, which is faster than the usual sentence-transformers path: the
   comparison favours the recipe).

``python -m tests.bench.ingest_compare`` prints JSON; ``make bench`` includes it. Needs the
``bench`` extra (langchain-community, langchain-chroma).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("DOCENT_SHARED_DATA", REPO.parent / "shared" / "data"))
SEC_DOCS = SHARED / "qa" / "docugami_sec10q" / "docs"
FIN_DOCS = SHARED / "qa" / "financebench" / "pdfs"
FINANCEBENCH_FILES = 10


def corpus(folder: Path) -> list[Path]:
    """Symlinks to the benchmark's 30 PDFs in ``folder``."""
    files = sorted(SEC_DOCS.glob("*.pdf")) + sorted(FIN_DOCS.glob("*.pdf"))[:FINANCEBENCH_FILES]
    folder.mkdir(parents=True, exist_ok=True)
    for path in files:
        (folder / path.name).symlink_to(path)
    return files


def _timed(cmd: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0,)) -> tuple[float, int, str]:
    """Run ``cmd`` under ``/usr/bin/time``: (wall seconds, peak RSS in MB, stdout). Raises
    ``RuntimeError`` with the end of its stderr when it exits with a code not in ``ok``."""
    with tempfile.NamedTemporaryFile(suffix=".rss") as rss:
        started = time.perf_counter()
        out = subprocess.run(
            ["/usr/bin/time", "-f", "%M", "-o", rss.name, *cmd],
            env={**os.environ, **(env or {})},
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - started
        if out.returncode not in ok:
            raise RuntimeError(f"{cmd[:4]} failed: {out.stderr[-2000:]}")
        peak_kb = int(Path(rss.name).read_text().split()[-1])
    return wall, round(peak_kb / 1024), out.stdout


def parse_only(folder: Path) -> dict[str, Any]:
    """(In a fresh process.) Parse (isolated, as docent does) and chunk every PDF in ``folder``, one
    after another: the CPU time parsing adds to an ingest on top of embedding."""
    from ingest.chunking import chunk_pages
    from ingest.loaders import parse_isolated

    started = time.perf_counter()
    pages = 0
    for path in sorted(folder.glob("*.pdf")):
        parsed = parse_isolated(path, "application/pdf", timeout_s=300, memory_mb=4096)
        chunk_pages(parsed.pages, headings=parsed.headings)
        pages += len(parsed.pages)
    seconds = time.perf_counter() - started
    return {"pages": pages, "parse_s": round(seconds, 1), "pages_per_s": round(pages / seconds, 2)}


def embed_only(data_dir: Path) -> dict[str, Any]:
    """(In a fresh process.) Embed what docent embedded, as docent does (one call per document),
    timing only ``embed`` calls."""
    import sqlite3
    from itertools import groupby

    from ingest.chunking import embedding_input
    from ingest.embeddings import LocalOnnxEmbedder

    catalog = sqlite3.connect(data_dir / "docent.db")
    rows = catalog.execute("SELECT document_id, context, text FROM chunks ORDER BY document_id, ordinal").fetchall()
    documents = [
        [embedding_input(context, text) for _, context, text in chunks]
        for _, chunks in groupby(rows, key=lambda row: row[0])
    ]
    embedder = LocalOnnxEmbedder()
    embedder.embed(["warm up"])
    started = time.perf_counter()
    for inputs in documents:
        embedder.embed(inputs)
    seconds = time.perf_counter() - started
    return {
        "chunks": len(rows),
        "embed_s": round(seconds, 1),
        "chunks_per_s": round(len(rows) / seconds, 2),
        # inputs longer than the model's 256-token window, cut at embedding time
        "truncated_fraction": round(embedder.truncated / max(1, len(rows)), 4),
    }


def recipe(folder: Path, persist: Path) -> dict[str, Any]:
    """(In a fresh process.) The LangChain recipe over every PDF in ``folder``."""
    from langchain_chroma import Chroma
    from langchain_community.document_loaders import PyPDFLoader
    from langchain_core.embeddings import Embeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    from ingest.embeddings import LocalOnnxEmbedder

    class SameModel(Embeddings):
        def __init__(self) -> None:
            self.model = LocalOnnxEmbedder()

        def embed_documents(self, texts: list[str]) -> list[list[float]]:
            return self.model.embed(texts)

        def embed_query(self, text: str) -> list[float]:
            return self.model.embed_query(text)

    started = time.perf_counter()
    pages, failed = [], []
    for path in sorted(folder.glob("*.pdf")):
        try:
            pages.extend(PyPDFLoader(str(path)).load())
        except Exception as exc:  # the recipe has no isolation: count what it could not load
            failed.append(f"{path.name}: {type(exc).__name__}")
    chunks = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200).split_documents(pages)
    Chroma.from_documents(chunks, SameModel(), persist_directory=str(persist))
    seconds = time.perf_counter() - started
    return {"pages": len(pages), "chunks": len(chunks), "wall_in_process_s": round(seconds, 1), "failed": failed}


def main() -> dict[str, Any]:
    """Run the three measurements; returns (and prints) the comparison."""
    with tempfile.TemporaryDirectory(prefix="docent-ingest-bench-") as tmp:
        root = Path(tmp)
        folder = root / "corpus"
        files = corpus(folder)
        docent = str(Path(sys.executable).parent / "docent")
        # exit code 1: some file failed, which the summary reports
        wall, rss, out = _timed(
            [docent, "ingest", str(folder), "--json"], {"DOCENT_DATA_DIR": str(root / "docent")}, ok=(0, 1)
        )
        summary = json.loads(out)
        result: dict[str, Any] = {
            "files": len(files),
            "docent": {
                "wall_s": round(wall, 1),
                "pages": summary["pages"],
                "chunks": summary["chunks"],
                "pages_per_s": round(summary["pages"] / wall, 2),
                "chunks_per_s": round(summary["chunks"] / wall, 2),
                "peak_rss_mb": rss,
                "counts": summary["counts"],
            },
        }
        print(json.dumps({"docent": result["docent"]}), file=sys.stderr, flush=True)  # each part as it ends
        module = "tests.bench.ingest_compare"
        wall, rss, out = _timed([sys.executable, "-m", module, "embed-only", str(root / "docent")])
        result["embed_only"] = {**json.loads(out), "process_wall_s": round(wall, 1), "peak_rss_mb": rss}
        print(json.dumps({"embed_only": result["embed_only"]}), file=sys.stderr, flush=True)
        wall, rss, out = _timed([sys.executable, "-m", module, "parse-only", str(folder)])
        result["parse_only"] = {**json.loads(out), "peak_rss_mb": rss}
        print(json.dumps({"parse_only": result["parse_only"]}), file=sys.stderr, flush=True)
        wall, rss, out = _timed([sys.executable, "-m", module, "recipe", str(folder), str(root / "recipe")])
        result["recipe"] = {**json.loads(out), "wall_s": round(wall, 1), "peak_rss_mb": rss}
        print(json.dumps({"recipe": result["recipe"]}), file=sys.stderr, flush=True)
    result["docent_over_embed_only"] = round(result["docent"]["wall_s"] / result["embed_only"]["embed_s"], 3)
    result["docent_over_recipe"] = round(result["docent"]["wall_s"] / result["recipe"]["wall_s"], 3)
    return result


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "embed-only":
        sys.stdout.write(json.dumps(embed_only(Path(sys.argv[2]))) + "\n")
    elif len(sys.argv) > 1 and sys.argv[1] == "parse-only":
        sys.stdout.write(json.dumps(parse_only(Path(sys.argv[2]))) + "\n")
    elif len(sys.argv) > 1 and sys.argv[1] == "recipe":
        sys.stdout.write(json.dumps(recipe(Path(sys.argv[2]), Path(sys.argv[3]))) + "\n")
    else:
        sys.stdout.write(json.dumps(main(), indent=2) + "\n")
