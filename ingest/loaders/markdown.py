"""Markdown: the source text as one page (citations point into what the author wrote); ATX
headings (``#`` … ``######``) outside fenced code become headings, the first one the title."""

from __future__ import annotations

import re
from pathlib import Path

from ingest.loaders import Heading, ParsedDocument
from ingest.loaders.text import load_text

__all__ = ["load_markdown"]

_HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(```|~~~)")


def load_markdown(path: Path) -> ParsedDocument:
    """Markdown source as a single page with its headings; title from the first heading."""
    parsed = load_text(path)
    text = parsed.pages[0]
    headings: list[Heading] = []
    offset, fenced = 0, False
    for line in text.splitlines(keepends=True):
        if _FENCE.match(line):
            fenced = not fenced
        elif not fenced and (match := _HEADING.match(line.rstrip("\n"))):
            headings.append(Heading(page=1, offset=offset, level=len(match.group(1)), text=match.group(2)))
        offset += len(line)
    parsed.headings = headings
    parsed.title = headings[0].text if headings else None
    return parsed
