"""Format loaders and the isolated parse.

Each loader turns a file into page texts (``ParsedDocument``). ``parse_isolated`` runs the loader in
a child process with a wall-time limit and an address-space limit (RLIMIT_AS), because malformed
PDFs have a long history of infinite loops and memory blow-ups in pure-Python parsers; a hostile
file fails its own job with a ``ParseError`` and never takes the server or the CLI down.
"""

from __future__ import annotations

import logging
import multiprocessing
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = [
    "SUPPORTED_EXTENSIONS",
    "Heading",
    "ParseError",
    "ParsedDocument",
    "content_type_for",
    "parse_file",
    "parse_isolated",
    "parses_running",
]

logger = logging.getLogger(__name__)

#: Extension → content type of every format docent ingests.
SUPPORTED_EXTENSIONS: dict[str, str] = {
    ".pdf": "application/pdf",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".html": "text/html",
    ".htm": "text/html",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}


@dataclass(frozen=True)
class Heading:
    """A heading of a document: on 1-based ``page``, starting at ``offset`` in that page's text,
    ``level`` 1 (top) to 6."""

    page: int
    offset: int
    level: int
    text: str


@dataclass
class ParsedDocument:
    """Page texts of one file (``pages[0]`` is page 1); text formats are a single page.
    ``headings`` are in reading order (empty for formats without them, such as PDF and TXT)."""

    pages: list[str]
    pages_without_text: int = 0
    title: str | None = None
    headings: list[Heading] = field(default_factory=list)
    meta: dict[str, Any] = field(default_factory=dict)


class ParseError(Exception):
    """A file that cannot be turned into text. ``code`` is machine-readable, the message is for people.

    Codes: ``unsupported_format``, ``password_required``, ``no_text_layer``, ``malformed``,
    ``timeout``, ``memory_limit``, ``parser_crashed``, ``decode_error``, ``cancelled``.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def content_type_for(filename: str) -> str:
    """The content type for ``filename``'s extension; raises ``ParseError('unsupported_format')``."""
    ext = Path(filename).suffix.lower()
    try:
        return SUPPORTED_EXTENSIONS[ext]
    except KeyError:
        supported = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        raise ParseError(
            "unsupported_format", f"unsupported file type {ext or '(none)'!r}; supported: {supported}"
        ) from None


ProgressFn = Callable[[int, int], None]
#: Longest wait between checks of a parse's ``cancel`` event, in seconds.
CANCEL_POLL_S = 0.25


def parse_file(path: Path, content_type: str, progress: ProgressFn | None = None) -> ParsedDocument:
    """Parse ``path`` in this process (no isolation). Raises ``ParseError``."""
    if content_type == "application/pdf":
        from ingest.loaders.pdf import load_pdf

        return load_pdf(path, progress)
    if content_type == "text/markdown":
        from ingest.loaders.markdown import load_markdown

        return load_markdown(path)
    if content_type == "text/plain":
        from ingest.loaders.text import load_text

        return load_text(path)
    if content_type == "text/html":
        from ingest.loaders.html import load_html

        return load_html(path)
    if content_type == SUPPORTED_EXTENSIONS[".docx"]:
        from ingest.loaders.docx import load_docx

        return load_docx(path)
    raise ParseError("unsupported_format", f"no loader for {content_type}")


def _child_main(path: str, content_type: str, memory_mb: int, conn: Connection) -> None:
    limit = memory_mb * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    def progress(done: int, total: int) -> None:
        conn.send(("progress", done, total))

    try:
        parsed = parse_file(Path(path), content_type, progress)
        conn.send(("ok", parsed))
    except ParseError as exc:
        conn.send(("error", exc.code, exc.message))
    except MemoryError:
        conn.send(("error", "memory_limit", f"parser exceeded its memory limit of {memory_mb} MB"))
    except ImportError as exc:  # under RLIMIT_AS a shared library can fail to map: that is memory
        code = "memory_limit" if "map segment" in str(exc) or "allocate memory" in str(exc) else "parser_crashed"
        conn.send(("error", code, f"the parser could not load ({exc}); memory limit {memory_mb} MB"))
    except RecursionError:
        conn.send(("error", "malformed", "the file's structure is too deeply nested (reference loop?)"))
    except Exception as exc:  # the child reports every parser failure as this file's error
        conn.send(("error", "malformed", f"could not parse the file: {type(exc).__name__}: {exc}"))
    finally:
        conn.close()


_running = 0
_running_lock = threading.Lock()


def parses_running() -> int:
    """How many ``parse_isolated`` children of this process are running now (each busy on a core)."""
    return _running


def parse_isolated(
    path: Path,
    content_type: str,
    *,
    timeout_s: float,
    memory_mb: int,
    progress: ProgressFn | None = None,
    cancel: threading.Event | None = None,
) -> ParsedDocument:
    """Parse ``path`` in a child process limited to ``timeout_s`` seconds and ``memory_mb`` MB.

    ``progress(pages_done, pages_total)`` is called as the child reports pages; setting ``cancel``
    kills the child within ``CANCEL_POLL_S``. Raises ``ParseError`` with code ``timeout``,
    ``memory_limit``, ``parser_crashed`` or ``cancelled`` when the child is killed or dies, or the
    loader's own code.
    """
    global _running
    ctx = multiprocessing.get_context("forkserver")
    receiver, sender = ctx.Pipe(duplex=False)
    proc = ctx.Process(
        target=_child_main, args=(str(path), content_type, memory_mb, sender), name="docent-parse", daemon=True
    )
    proc.start()
    sender.close()
    deadline = time.monotonic() + timeout_s
    with _running_lock:
        _running += 1
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise ParseError("timeout", f"parsing took longer than {timeout_s:.0f} s")
            if cancel is not None and cancel.is_set():
                raise ParseError("cancelled", "parsing was cancelled")
            if not receiver.poll(min(remaining, CANCEL_POLL_S)):
                continue
            try:
                message = receiver.recv()
            except (EOFError, OSError):
                proc.join(5)
                if proc.exitcode is not None and proc.exitcode < 0:
                    raise ParseError(
                        "memory_limit" if proc.exitcode == -9 else "parser_crashed",
                        f"the parser died (signal {-proc.exitcode}); the file is probably hostile or malformed",
                    ) from None
                raise ParseError("parser_crashed", f"the parser exited with code {proc.exitcode}") from None
            kind = message[0]
            if kind == "progress":
                if progress is not None:
                    progress(message[1], message[2])
            elif kind == "ok":
                parsed: ParsedDocument = message[1]
                return parsed
            else:
                raise ParseError(message[1], message[2])
    finally:
        with _running_lock:
            _running -= 1
        receiver.close()
        if proc.is_alive():
            proc.kill()
        proc.join(5)
