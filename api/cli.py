"""The ``docent`` command line: serve, ingest, search, ask.

``ingest`` writes the embedded index itself when no server holds it; when a running ``docent
serve`` holds the one-writer lock, it uploads through that server's API instead (DESIGN §2: one
writer per Chroma directory).
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ingest.bulk import FileResult, job_result, result_label
from ingest.loaders import SUPPORTED_EXTENSIONS
from ingest.models import IngestJob, JobStatus
from ingest.settings import Settings

__all__ = ["app"]

app = typer.Typer(help="docent: grounded, cited answers over your own documents.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)

TERMINAL = frozenset(s.value for s in JobStatus if s.terminal)


def _logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


def _collect(paths: list[Path], recursive: bool) -> tuple[list[tuple[Path, str]], list[FileResult]]:
    """Supported files under ``paths`` as ``(path, name)``, sorted and de-duplicated, and results
    for unusable paths. A file inside a given folder is named by its path relative to that folder
    (``2023/report.pdf``), so same-named files in different sub-folders stay distinct documents; a
    file given directly is named by its file name."""
    found: dict[Path, str] = {}
    problems: list[FileResult] = []
    for path in paths:
        if path.is_dir():
            pattern = path.rglob("*") if recursive else path.glob("*")
            for item in sorted(pattern):
                if item.is_file() and item.suffix.lower() in SUPPORTED_EXTENSIONS:
                    found.setdefault(item.resolve(), item.relative_to(path).as_posix())
        elif path.is_file():
            if path.suffix.lower() in SUPPORTED_EXTENSIONS:
                found.setdefault(path.resolve(), path.name)
            else:
                supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
                problems.append(
                    FileResult(str(path), path.name, "failed", reason=f"unsupported type; supported: {supported}")
                )
        else:
            problems.append(FileResult(str(path), path.name, "failed", reason="no such file or directory"))
    return _unique_names(found), problems


def _unique_names(found: dict[Path, str]) -> list[tuple[Path, str]]:
    """Names are how a collection tells versions apart, so two different files of one run must not
    share one: colliding names fall back to the path relative to the working directory (else the
    absolute path). At most 512 characters, keeping the end."""
    counts: dict[str, int] = {}
    for name in found.values():
        counts[name] = counts.get(name, 0) + 1
    cwd = Path.cwd().resolve()
    named = []
    for path, name in found.items():
        if counts[name] > 1:
            name = path.relative_to(cwd).as_posix() if path.is_relative_to(cwd) else path.as_posix().lstrip("/")
        named.append((path, name[-512:]))
    return named


class _IngestDisplay:
    """Rich progress for a bulk ingest: files (with ETA), pages parsed and chunks embedded per
    second, and the file being embedded."""

    def __init__(self, total_files: int) -> None:
        self.progress = Progress(
            TextColumn("[bold]{task.description}", justify="left"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[detail]}"),
            console=err_console,
        )
        self.files = self.progress.add_task("files", total=total_files, detail="")
        self.current = self.progress.add_task("", total=None, detail="")
        self.started = time.perf_counter()
        self.pages: dict[str, int] = {}
        self.chunks: dict[str, int] = {}
        self._lock = threading.Lock()

    def job(self, job: IngestJob) -> None:
        with self._lock:
            self.pages[job.id] = job.pages_done or 0
            self.chunks[job.id] = job.chunks_embedded or 0
            elapsed = max(1e-6, time.perf_counter() - self.started)
            pages, chunks = sum(self.pages.values()), sum(self.chunks.values())
            rate = f"{pages / elapsed:.1f} pages/s, {chunks / elapsed:.1f} chunks/s"
            self.progress.update(self.files, detail=rate)
            if job.status == "embedding":
                self.progress.update(
                    self.current,
                    description=job.filename[-40:],
                    completed=job.chunks_embedded,
                    total=job.chunks,
                    detail="embedding",
                )

    def result(self, result: FileResult) -> None:
        self.progress.advance(self.files)


class _LocalIngest:
    """Writes the embedded index itself (the caller holds the writer lock); one pipeline for the
    whole run, so ``--watch`` loads the model once."""

    def __init__(
        self,
        settings: Settings,
        collection: str,
        parse_workers: int,
        *,
        contextual: bool = True,
        exclusive: bool = True,
        embedding_cache: Path | None = None,
    ) -> None:
        from ingest.db import build_catalog
        from ingest.embeddings import CachedEmbedder, Embedder, build_embedder
        from ingest.index import VectorIndex
        from ingest.pipeline import IngestPipeline

        _, session_factory = build_catalog(settings)
        embedder: Embedder = build_embedder(settings)
        if embedding_cache is not None:
            embedder = CachedEmbedder(embedder, embedding_cache)
        index = VectorIndex.from_settings(settings, embedder_name=embedder.name, dimension=embedder.dimension)
        self.pipeline = IngestPipeline(
            settings=settings,
            session_factory=session_factory,
            embedder=embedder,
            vector_index=index,
            contextual=contextual,
        )
        self.collection = collection
        self.parse_workers = parse_workers
        # a run stopped by Ctrl-C or a crash continues here (without the writer lock, i.e. with a
        # Chroma server, only jobs that stopped making progress long ago are taken as dead)
        resumed = self.pipeline.requeue_interrupted(None if exclusive else 600.0)
        if resumed:
            err_console.print(f"resuming {len(resumed)} interrupted job(s)")

    def run(self, files: list[tuple[Path, str]]) -> list[FileResult]:
        from ingest.bulk import ingest_files

        display = _IngestDisplay(len(files))
        with display.progress:
            results = ingest_files(
                self.pipeline,
                files,
                self.collection,
                parse_workers=self.parse_workers,
                on_progress=display.job,
                on_result=display.result,
            )
            # jobs resumed from an earlier run whose files were not named this time
            while (job_id := self.pipeline.next_queued()) is not None:
                started = time.perf_counter()
                job = self.pipeline.run(job_id, on_progress=display.job)
                results.append(job_result("", job.filename, job, started))
        return results

    def remove(self, name: str) -> int:
        """Delete the collection's documents called ``name``; returns how many."""
        ids = self.pipeline.document_ids_named(self.collection, name)
        for document_id in ids:
            self.pipeline.delete_document(document_id)
        return len(ids)


class _RemoteIngest:
    """Uploads through a running docent server (which holds the writer lock)."""

    def __init__(self, server: str, collection: str) -> None:
        self.server = server
        self.collection = collection

    def run(self, files: list[tuple[Path, str]]) -> list[FileResult]:
        return _ingest_remote(self.server, files, self.collection)

    def remove(self, name: str) -> int:
        import httpx

        with httpx.Client(base_url=self.server, timeout=60) as client:
            listed = client.get("/api/documents", params={"collection": self.collection}).json()["documents"]
            ids = [d["id"] for d in listed if d["filename"] == name]
            for document_id in ids:
                client.delete(f"/api/documents/{document_id}")
        return len(ids)


def _watch(runner: _LocalIngest | _RemoteIngest, roots: list[Path], recursive: bool) -> None:
    """Keep ``roots`` in sync until Ctrl-C: new and changed files are ingested (a changed file
    replaces its old version), deleted files are removed from the collection. Uses watchfiles
    (Rust ``notify``), which batches bursts of events."""
    import watchfiles

    folders = [p for p in roots if p.is_dir()]
    if not folders:
        err_console.print("[yellow]--watch needs a folder; nothing to watch[/]")
        return
    err_console.print(f"watching {', '.join(str(f) for f in folders)} (Ctrl-C to stop)")

    def supported(_change: watchfiles.Change, path: str) -> bool:
        return Path(path).suffix.lower() in SUPPORTED_EXTENSIONS and not Path(path).name.startswith(".")

    for changes in watchfiles.watch(*folders, watch_filter=supported, recursive=recursive, raise_interrupt=True):
        # a batch is an unordered set (delete + re-create arrives as both): what counts is whether
        # each path exists once the batch is over
        changed: dict[Path, str] = {}
        for raw in sorted({raw for _, raw in changes}):
            path = Path(raw)
            root = next((f.resolve() for f in folders if path.is_relative_to(f.resolve())), None)
            if root is None:
                continue
            name = path.relative_to(root).as_posix()
            if path.is_file():
                changed[path] = name
            else:
                removed = runner.remove(name)
                console.print(f"removed {name}" if removed else f"{name} was not in the collection")
        if changed:
            for result in runner.run(list(changed.items())):
                console.print(f"{result.status} {result.name}" + (f": {result.reason}" if result.reason else ""))


def _ingest_remote(server: str, files: list[tuple[Path, str]], collection: str) -> list[FileResult]:
    import httpx

    results: list[FileResult] = []
    with (
        httpx.Client(base_url=server, timeout=httpx.Timeout(600, connect=5)) as client,
        Progress(
            TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
            console=err_console,
        ) as progress,
    ):  # fmt: skip
        overall = progress.add_task("files (via server)", total=len(files))
        for path, name in files:
            started = time.perf_counter()
            with path.open("rb") as handle:
                files_field = {"files": (name, handle)}
                response = client.post("/api/documents", files=files_field, data={"collection": collection})
            if response.status_code != 202:
                body = response.json()
                results.append(FileResult(str(path), name, "failed", reason=body.get("detail"), code=body.get("code")))
                progress.advance(overall)
                continue
            job = response.json()["jobs"][0]
            while job["status"] not in TERMINAL:
                time.sleep(0.5)
                job = client.get(f"/api/jobs/{job['id']}").json()
            results.append(
                FileResult(
                    str(path),
                    name,
                    result_label(job["status"]),
                    job["pages_total"],
                    job["chunks"] or None,
                    job["error"],
                    job["error_code"],
                    round(time.perf_counter() - started, 2),
                )
            )
            progress.advance(overall)
    return results


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
    parse_workers: Annotated[
        int, typer.Option(min=1, help="Files parsed ahead while one is embedded (default: cores - 1, at least 1).")
    ] = max(1, (os.cpu_count() or 2) - 1),
    watch: Annotated[
        bool, typer.Option("--watch", help="Then keep the folders in sync: ingest new and changed files, drop deleted.")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print a machine-readable summary.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v")] = False,
) -> None:
    """Ingest PDF, TXT, Markdown, HTML and DOCX files. Files already ingested (same content) are
    duplicates; a file name seen before with new content replaces the old version. Ctrl-C stops
    cleanly and a rerun continues where it stopped. Exits 1 if any file failed, 130 if interrupted."""
    from ingest.index import WriterLockHeld, acquire_writer_lock

    _logging(verbose)
    settings = Settings()
    files, results = _collect(paths, recursive)
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
        runner = (
            _RemoteIngest(server, collection)
            if server
            else _LocalIngest(settings, collection, parse_workers, exclusive=lock is not None)
        )
        results += runner.run(files)
        _report_ingest(results, time.perf_counter() - started, as_json)
        if watch:
            _watch(runner, paths, recursive)
    except KeyboardInterrupt:
        if watch:
            raise typer.Exit(0) from None
        err_console.print("[yellow]interrupted: nothing half-written is kept; run the same command to continue[/]")
        raise typer.Exit(130) from None
    finally:
        if lock is not None:
            lock.release()
    if any(r.status == "failed" for r in results):
        raise typer.Exit(1)


def _report_ingest(results: list[FileResult], elapsed: float, as_json: bool) -> None:
    counts = {k: sum(1 for r in results if r.status == k) for k in ("ingested", "duplicate", "failed", "cancelled")}
    done = [r for r in results if r.status == "ingested"]
    pages, chunks = sum(r.pages or 0 for r in done), sum(r.chunks or 0 for r in done)
    if as_json:
        summary = {
            "files": [asdict(r) for r in results],
            "counts": counts,
            "pages": pages,
            "chunks": chunks,
            "seconds": round(elapsed, 2),
        }
        sys.stdout.write(json.dumps(summary, indent=2) + "\n")
        return
    table = Table(title=f"docent ingest: {len(results)} files in {elapsed:.1f} s")
    for column in ("file", "result", "pages", "chunks", "seconds", "reason"):
        table.add_column(column)
    colour = {"ingested": "green", "duplicate": "yellow", "failed": "red", "cancelled": "yellow"}
    for r in results:
        table.add_row(
            r.name,
            f"[{colour[r.status]}]{r.status}[/]",
            str(r.pages or ""),
            str(r.chunks or ""),
            f"{r.seconds:.1f}",
            r.reason or "",
        )
    console.print(table)
    console.print(
        f"ingested {counts['ingested']}, duplicate {counts['duplicate']}, failed {counts['failed']}; "
        f"pages {pages}, chunks {chunks}; {pages / max(elapsed, 1e-6):.1f} pages/s, "
        f"{chunks / max(elapsed, 1e-6):.1f} chunks/s"
    )


def _retriever(settings: Settings, *, warm: bool = False) -> Any:
    """A retriever over the settings' stores; ``warm`` loads the in-memory keyword index first
    (else a big catalog is searched through its full-text index until that loads)."""
    from api.retrieval import build_retriever
    from ingest.db import build_catalog
    from ingest.embeddings import LocalOnnxEmbedder, build_embedder
    from ingest.index import VectorIndex

    engine, session_factory = build_catalog(settings)
    embedder = build_embedder(settings)
    index = VectorIndex.from_settings(settings, embedder_name=embedder.name, dimension=embedder.dimension)
    retriever = build_retriever(settings, session_factory=session_factory, embedder=embedder, vector_index=index)
    if warm:
        retriever.keyword_index.warm(engine)
        if isinstance(embedder, LocalOnnxEmbedder):
            embedder.warm_queries()
    return retriever


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
    from api.chat.service import build_chat_service
    from api.schemas import ChatRequest, CitationsPart, ErrorPart, SourcesPart, TextDeltaPart

    _logging(False)
    settings = Settings()
    retriever = _retriever(settings)
    provider = build_provider(settings, retriever.embedder)
    service = build_chat_service(settings, retriever, provider)
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
    baseline: Annotated[
        bool,
        typer.Option(
            "--baseline",
            help="Also score the LangChain recipe (page texts → RecursiveCharacterTextSplitter(1000, 200) → "
            "dense top-k, no context) as mode 'recipe', in its own collection COLLECTION-recipe.",
        ),
    ] = False,
    answers: Annotated[
        bool,
        typer.Option(
            "--answers",
            help="squad and financebench: answer every question end to end with the configured provider "
            "(nothing is stored) and report answer and refusal rates (squad: refusal_rate_unanswerable, "
            "answer_rate_answerable, answer_contains_gold), citation support and time to first token instead "
            "of retrieval metrics.",
        ),
    ] = False,
) -> None:
    """Ingest a dataset's documents into an isolated collection (duplicates are skipped, so reruns
    are cheap) and report retrieval metrics per mode: page_recall@5/@10, doc_recall@5, mrr@10,
    ndcg@10, latency p50/p95; or, with --answers, how well chat answers and refuses."""
    from api.eval import evaluate, load_beir, load_financebench, load_sec10q, load_squad
    from ingest.index import acquire_writer_lock

    modes = ["dense", "keyword", "hybrid"] if mode == "all" else [mode]
    if not set(modes) <= {"dense", "keyword", "hybrid"}:
        raise typer.BadParameter("mode must be hybrid, dense, keyword or all")
    if answers and dataset not in ("squad", "financebench"):
        raise typer.BadParameter("--answers needs the squad or financebench dataset")
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
    workers = max(1, (os.cpu_count() or 2) - 1)
    try:
        cache = settings.data_dir / "eval" / "embedding-cache.sqlite"  # reruns embed only changed chunks
        outcomes = _LocalIngest(settings, name, workers, embedding_cache=cache).run(files)
        if baseline:
            recipe = settings.model_copy(update={"chunk_size": 1000, "chunk_overlap": 200})
            _LocalIngest(recipe, f"{name}-recipe", workers, contextual=False, embedding_cache=cache).run(files)
    finally:
        if lock is not None:
            lock.release()
    retriever = _retriever(settings, warm=True)
    if answers:
        from api.eval import as_answer_questions, load_squad_answers

        asked = load_squad_answers(questions) if dataset == "squad" else as_answer_questions(usable)
        failed = [o.path for o in outcomes if o.status == "failed"]
        _eval_answers(settings, retriever, dataset, asked, name, json_out, failed)
        return
    report: dict[str, Any] = {
        "dataset": dataset,
        "questions_used": len(usable),
        "questions_skipped": skipped,
        "documents": sum(1 for o in outcomes if o.status != "failed"),
        "documents_new": sum(1 for o in outcomes if o.status == "ingested"),
        "documents_failed": [o.path for o in outcomes if o.status == "failed"],
        "modes": {m: evaluate(retriever, usable, mode=m, collection=name) for m in modes},  # type: ignore[arg-type]
    }
    if baseline:
        report["modes"]["recipe"] = evaluate(
            retriever, usable, mode="dense", collection=f"{name}-recipe", one_per_page=False
        )
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


def _eval_answers(
    settings: Settings,
    retriever: Any,
    dataset: str,
    asked: list[Any],
    collection: str,
    json_out: Path | None,
    documents_failed: list[str],
) -> None:
    """``docent eval DATASET --answers``: the chat service answers every question; print and save."""
    from api.chat.providers import build_provider
    from api.chat.service import build_chat_service
    from api.eval import run_answers

    provider = build_provider(settings, retriever.embedder, paced=False)
    service = build_chat_service(settings, retriever, provider)
    metrics, records = run_answers(service, asked, collection=collection)
    if documents_failed:
        err_console.print(
            f"[yellow]{len(documents_failed)} documents failed to ingest; their questions count as asked[/yellow]"
        )
    table = Table(title=f"{dataset} answers: {len(asked)} questions, {provider.name}:{provider.model}")
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in metrics.items():
        if isinstance(value, int | float):
            table.add_row(key, f"{value:.3f}" if isinstance(value, float) else str(value))
    console.print(table)
    chosen = metrics.get("extractive_calibration", {}).get("chosen")
    if chosen:
        console.print(
            f"calibration: min_score {chosen['min_score']} keeps answer rate {chosen['answer_rate_answerable']:.3f} "
            f"and refuses {chosen['refusal_rate_unanswerable']:.3f} of unanswerable questions"
        )
    if json_out is not None:
        report = {
            "dataset": dataset,
            "collection": collection,
            "provider": provider.name,
            "model": provider.model,
            "documents_failed": documents_failed,
        }
        json_out.write_text(json.dumps(report | metrics | {"answers": records}, indent=2) + "\n")


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
