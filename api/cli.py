"""The ``docent`` command line: serve, ingest, search, ask.

``ingest`` writes the embedded index itself when no server holds it; when a running ``docent
serve`` holds the one-writer lock, it uploads through that server's API instead (DESIGN §2: one
writer per Chroma directory).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from ingest.loaders import SUPPORTED_EXTENSIONS
from ingest.settings import Settings

__all__ = ["app"]

app = typer.Typer(help="docent: grounded, cited answers over your own documents.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

TERMINAL = ("done", "failed", "duplicate")


@dataclass
class FileOutcome:
    path: str
    status: str  # ingested | duplicate | failed
    pages: int | None = None
    chunks: int | None = None
    reason: str | None = None
    seconds: float = 0.0


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def _collect(paths: list[Path], recursive: bool) -> tuple[list[Path], list[FileOutcome]]:
    """Supported files under ``paths`` (sorted, de-duplicated) and outcomes for unusable paths."""
    found: dict[Path, None] = {}
    problems: list[FileOutcome] = []
    for path in paths:
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.glob("*")
            for item in sorted(pattern):
                if item.is_file() and item.suffix.lower() in SUPPORTED_EXTENSIONS:
                    found.setdefault(item.resolve(), None)
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_EXTENSIONS:
                found.setdefault(path.resolve(), None)
            else:
                supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
                problems.append(FileOutcome(str(path), "failed", reason=f"unsupported type; supported: {supported}"))
        else:
            problems.append(FileOutcome(str(path), "failed", reason="no such file or directory"))
    return list(found), problems


def _progress() -> Progress:
    return Progress(
        TextColumn("[bold]{task.description}", justify="left"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[detail]}"),
        TimeElapsedColumn(),
        console=err_console,
    )


def _ingest_local(settings: Settings, files: list[Path], collection: str) -> list[FileOutcome]:
    from ingest.db import build_catalog
    from ingest.embeddings import build_embedder
    from ingest.index import VectorIndex
    from ingest.models import IngestJob
    from ingest.pipeline import IngestPipeline

    _, session_factory = build_catalog(settings)
    embedder = build_embedder(settings)
    index = VectorIndex.from_settings(settings, embedder_name=embedder.name, dimension=embedder.dimension)
    pipeline = IngestPipeline(settings=settings, session_factory=session_factory, embedder=embedder, vector_index=index)
    outcomes: list[FileOutcome] = []
    with _progress() as progress:
        overall = progress.add_task("files", total=len(files), detail="")
        current = progress.add_task("", total=None, detail="")
        for path in files:
            started = time.perf_counter()
            progress.update(current, description=path.name[:40], completed=0, total=None, detail="hashing")

            def show(job: IngestJob) -> None:
                if job.status == "embedding":
                    progress.update(current, completed=job.chunks_embedded, total=job.chunks, detail="embedding chunks")
                elif job.pages_total:
                    progress.update(
                        current, completed=job.pages_done, total=job.pages_total, detail=f"{job.status} pages"
                    )

            job = pipeline.register(path, path.name, collection)
            if job.status == "queued":
                job = pipeline.run(job.id, on_progress=show)
            outcomes.append(_outcome(str(path), job.status, job.pages_total, job.chunks, job.error, started))
            progress.advance(overall)
    return outcomes


def _outcome(
    path: str, status: str, pages: int | None, chunks: int | None, error: str | None, started: float
) -> FileOutcome:
    label = {"done": "ingested", "duplicate": "duplicate"}.get(status, "failed")
    return FileOutcome(path, label, pages, chunks, error, round(time.perf_counter() - started, 2))


def _ingest_remote(server: str, files: list[Path], collection: str) -> list[FileOutcome]:
    import httpx

    outcomes: list[FileOutcome] = []
    with httpx.Client(base_url=server, timeout=httpx.Timeout(600, connect=5)) as client, _progress() as progress:
        overall = progress.add_task("files (via server)", total=len(files), detail="")
        for path in files:
            started = time.perf_counter()
            with path.open("rb") as handle:
                response = client.post(
                    "/api/documents", files={"files": (path.name, handle)}, data={"collection": collection}
                )
            if response.status_code != 202:
                outcomes.append(FileOutcome(str(path), "failed", reason=response.json().get("detail", response.text)))
                progress.advance(overall)
                continue
            job = response.json()["jobs"][0]
            while job["status"] not in TERMINAL:
                time.sleep(0.5)
                job = client.get(f"/api/jobs/{job['id']}").json()
            outcomes.append(
                _outcome(str(path), job["status"], job["pages_total"], job["chunks"], job["error"], started)
            )
            progress.advance(overall)
    return outcomes


def _server_url(settings: Settings) -> str | None:
    import httpx

    url = f"http://{settings.host}:{settings.port}"
    try:
        if httpx.get(f"{url}/api/health", timeout=2).status_code in (200, 503):
            return url
    except httpx.HTTPError:
        return None
    return None


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="Files and folders to ingest.")],
    collection: Annotated[str, typer.Option("--collection", "-c", help="Collection to add to.")] = "default",
    recursive: Annotated[bool, typer.Option("--recursive/--no-recursive", help="Descend into sub-folders.")] = True,
    server: Annotated[
        str | None, typer.Option(help="Upload through this docent server instead of writing locally.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Ingest PDF, TXT, Markdown, HTML and DOCX files; files already ingested (same content) are reported as
    duplicates. Exits 1 if any file failed."""
    from ingest.index import WriterLockHeld, acquire_writer_lock

    _logging(verbose)
    settings = Settings()
    files, outcomes = _collect(paths, recursive)
    started = time.perf_counter()
    lock = None
    if server is None:
        try:
            lock = acquire_writer_lock(settings)
        except WriterLockHeld as exc:
            server = _server_url(settings)
            if server is None:
                err_console.print(f"[red]{exc}[/red]")
                raise typer.Exit(2) from exc
            err_console.print(f"a docent server holds the index; uploading through {server}")
    try:
        outcomes += _ingest_remote(server, files, collection) if server else _ingest_local(settings, files, collection)
    finally:
        if lock is not None:
            lock.release()
    elapsed = time.perf_counter() - started
    counts = {k: sum(1 for o in outcomes if o.status == k) for k in ("ingested", "duplicate", "failed")}
    if as_json:
        summary = {"files": [asdict(o) for o in outcomes], "counts": counts, "seconds": round(elapsed, 2)}
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        table = Table(title=f"docent ingest: {len(outcomes)} files in {elapsed:.1f} s")
        for column in ("file", "result", "pages", "chunks", "seconds", "reason"):
            table.add_column(column)
        colour = {"ingested": "green", "duplicate": "yellow", "failed": "red"}
        for o in outcomes:
            table.add_row(
                Path(o.path).name,
                f"[{colour[o.status]}]{o.status}[/]",
                str(o.pages or ""),
                str(o.chunks or ""),
                f"{o.seconds:.1f}",
                o.reason or "",
            )
        console.print(table)
        console.print(
            f"ingested {counts['ingested']}, duplicate {counts['duplicate']}, failed {counts['failed']}; "
            f"pages {sum(o.pages or 0 for o in outcomes if o.status == 'ingested')}, "
            f"chunks {sum(o.chunks or 0 for o in outcomes if o.status == 'ingested')}"
        )
    if counts["failed"]:
        raise typer.Exit(1)


def _retriever(settings: Settings) -> Any:
    from api.retrieval import build_retriever
    from ingest.db import build_catalog
    from ingest.embeddings import build_embedder
    from ingest.index import VectorIndex

    _, session_factory = build_catalog(settings)
    embedder = build_embedder(settings)
    index = VectorIndex.from_settings(settings, embedder_name=embedder.name, dimension=embedder.dimension)
    return build_retriever(settings, session_factory=session_factory, embedder=embedder, vector_index=index)


@app.command()
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=50)] = 8,
    mode: Annotated[str, typer.Option(help="hybrid, dense or keyword.")] = "hybrid",
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
) -> None:
    """Show the top-k passages for QUERY with file, page and score."""
    if mode not in ("hybrid", "dense", "keyword"):
        raise typer.BadParameter("mode must be hybrid, dense or keyword")
    _logging(False)
    result = _retriever(Settings()).retrieve(query, k=k, mode=mode, collection=collection)
    table = Table(title=f"{len(result.results)} results in {result.timings_ms['total']:.0f} ms ({mode})")
    for column in ("#", "file", "page", "score", "passage"):
        table.add_column(column, overflow="fold")
    for r in result.results:
        snippet = " ".join(r.text.split())
        table.add_row(str(r.rank), r.filename, str(r.page_start), f"{r.score:.4f}", snippet[:240])
    console.print(table)


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="Your question.")],
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=50)] = 8,
    collection: Annotated[str | None, typer.Option("--collection", "-c")] = None,
) -> None:
    """Answer QUESTION from your documents, streaming, then list the cited sources."""
    from api.chat.providers import build_provider
    from api.chat.service import ChatService
    from api.schemas import ChatRequest, CitationsPart, ErrorPart, SourcesPart, TextDeltaPart

    _logging(False)
    settings = Settings()
    retriever = _retriever(settings)
    provider = build_provider(settings, retriever.embedder)
    service = ChatService(
        retriever=retriever, provider=provider, session_factory=retriever.session_factory, default_k=settings.retrieve_k
    )
    request = ChatRequest(message=question, collection=collection, k=k)

    async def run() -> tuple[list[Any], list[Any], str | None]:
        sources: list[Any] = []
        citations: list[Any] = []
        error = None
        turn = await service.open(request)
        async for part in service.stream(request, turn):
            if isinstance(part, SourcesPart):
                sources = part.data
            elif isinstance(part, TextDeltaPart):
                console.print(part.delta, end="", soft_wrap=True, highlight=False, markup=False)
            elif isinstance(part, CitationsPart):
                citations = part.data
            elif isinstance(part, ErrorPart):
                error = part.errorText
        console.print()
        return sources, citations, error

    sources, citations, error = asyncio.run(run())
    if error:
        err_console.print(f"[red]{error}[/red]")
        raise typer.Exit(1)
    if provider.name == "extractive":
        err_console.print("[dim](extractive answer: sentences quoted from your documents; no LLM configured)[/dim]")
    if citations:
        table = Table(title="Sources")
        for column in ("[n]", "file", "page", "verdict", "supporting passage"):
            table.add_column(column, overflow="fold")
        for c in citations:
            table.add_row(f"[{c.n}]", c.filename, str(c.page), c.verdict, " ".join(c.quote.split())[:300])
        console.print(table)
    elif sources:
        console.print(f"[dim]{len(sources)} passages retrieved; none cited.[/dim]")


@app.command(name="eval")
def eval_(
    dataset: Annotated[str, typer.Argument(help="financebench, sec10q, squad or beir.")],
    questions: Annotated[
        Path,
        typer.Option(
            exists=True, help="Question file (financebench .jsonl, sec10q .csv, squad .json, beir qrels .tsv)."
        ),
    ],
    documents: Annotated[
        Path | None,
        typer.Option(exists=True, file_okay=False, help="The PDFs (financebench, sec10q) or the BEIR dataset folder."),
    ] = None,
    mode: Annotated[str, typer.Option(help="hybrid, dense, keyword or all.")] = "all",
    collection: Annotated[
        str | None, typer.Option(help="Collection to ingest into and search (default eval-DATASET).")
    ] = None,
    json_out: Annotated[Path | None, typer.Option("--json", help="Write the metrics as JSON here.")] = None,
) -> None:
    """Ingest a dataset's documents into an isolated collection (duplicates are skipped, so reruns
    are cheap) and report retrieval metrics per mode: page_recall@5/@10, doc_recall@5, mrr@10,
    ndcg@10, latency p50/p95."""
    from api.eval import evaluate, load_beir, load_financebench, load_sec10q, load_squad
    from ingest.index import acquire_writer_lock

    modes = ["dense", "keyword", "hybrid"] if mode == "all" else [mode]
    if not set(modes) <= {"dense", "keyword", "hybrid"}:
        raise typer.BadParameter("mode must be hybrid, dense, keyword or all")
    _logging(False)
    settings = Settings()
    name = collection or f"eval-{dataset}"
    if dataset == "squad":
        folder = settings.data_dir / "eval" / "squad"
        usable, skipped = load_squad(questions, folder)
    elif dataset not in ("financebench", "sec10q", "beir"):
        raise typer.BadParameter("dataset must be one of financebench, sec10q, squad, beir")
    elif documents is None:
        raise typer.BadParameter(f"{dataset} needs --documents")
    elif dataset == "beir":
        folder = settings.data_dir / "eval" / f"beir-{documents.name}"
        usable, skipped = load_beir(questions, documents, folder)
    else:
        folder = documents
        load = load_financebench if dataset == "financebench" else load_sec10q
        usable, skipped = load(questions, documents)
    files, _ = _collect([folder], recursive=False)
    lock = acquire_writer_lock(settings)
    try:
        outcomes = _ingest_local(settings, files, name)
    finally:
        if lock is not None:
            lock.release()
    retriever = _retriever(settings)
    report: dict[str, Any] = {
        "dataset": dataset,
        "questions_used": len(usable),
        "questions_skipped": skipped,
        "documents": sum(1 for o in outcomes if o.status != "failed"),
        "documents_new": sum(1 for o in outcomes if o.status == "ingested"),
        "documents_failed": [o.path for o in outcomes if o.status == "failed"],
        "modes": {m: evaluate(retriever, usable, mode=m, collection=name) for m in modes},  # type: ignore[arg-type]
    }
    table = Table(title=f"{dataset}: {len(usable)} questions ({skipped} skipped), collection {name!r}")
    metric_names = list(next(iter(report["modes"].values())))
    table.add_column("mode")
    for metric in metric_names:
        table.add_column(metric, justify="right")
    for m, metrics in report["modes"].items():
        table.add_row(
            m, *(f"{metrics[k]:.1f}" if k.startswith("latency") else f"{metrics[k]:.3f}" for k in metric_names)
        )
    console.print(table)
    if json_out is not None:
        json_out.write_text(json.dumps(report, indent=2) + "\n")


@app.command()
def doctor(
    repair: Annotated[bool, typer.Option("--repair", help="Make the stores agree.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Check that the catalog, the vector index and the keyword index agree (exit 1 if not);
    with --repair, delete orphan vectors, rebuild the keyword index and re-ingest documents whose
    vectors are missing."""
    from ingest.db import build_catalog
    from ingest.doctor import diagnose
    from ingest.embeddings import build_embedder
    from ingest.index import VectorIndex, acquire_writer_lock
    from ingest.pipeline import IngestPipeline

    _logging(False)
    settings = Settings()
    lock = acquire_writer_lock(settings) if repair else None
    try:
        _, session_factory = build_catalog(settings)
        embedder = build_embedder(settings)
        index = VectorIndex.from_settings(settings, embedder_name=embedder.name, dimension=embedder.dimension)
        report = diagnose(session_factory, index, repair=repair)
        if repair:
            pipeline = IngestPipeline(
                settings=settings, session_factory=session_factory, embedder=embedder, vector_index=index
            )
            for entry in report.repaired:
                if entry.startswith("requeued:"):
                    pipeline.run(entry.removeprefix("requeued:"))
    finally:
        if lock is not None:
            lock.release()
    summary = {
        "healthy": report.healthy,
        "orphan_vectors": sum(len(v) for v in report.orphan_vectors.values()),
        "documents_missing_vectors": report.documents_missing_vectors,
        "incomplete_documents": report.incomplete_documents,
        "documents_missing_terms": report.documents_missing_terms,
        "keyword_index_ok": report.keyword_index_ok,
        "stuck_documents": report.stuck_documents,
        "missing_files": report.missing_files,
        "repaired": report.repaired,
    }
    if as_json:
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
    else:
        for key, value in summary.items():
            console.print(f"{key}: {value}")
    if not report.healthy and not repair:
        raise typer.Exit(1)


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Default DOCENT_HOST (127.0.0.1).")] = None,
    port: Annotated[int | None, typer.Option(help="Default DOCENT_PORT (8000).")] = None,
) -> None:
    """Serve the API and the UI."""
    import uvicorn

    settings = Settings()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    uvicorn.run("api.app:create_app", factory=True, host=host or settings.host, port=port or settings.port, workers=1)


if __name__ == "__main__":
    app()
