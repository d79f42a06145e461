"""Markdown: the source text as one page; the first heading becomes the title."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders import ParsedDocument
from ingest.loaders.text import load_text

__all__ = ["load_markdown"]

_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def load_markdown(path: Path) -> ParsedDocument:
    """Markdown source as a single page, title from its first heading."""
    parsed = load_text(path)
    match = _HEADING.search(parsed.pages[0])
    parsed.title = match.group(1) if match else None
    return parsed
