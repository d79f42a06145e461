"""Assemble structured formats (HTML, DOCX) into one page of text with headings at known offsets."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.loaders import Heading

__all__ = ["BlockText"]

BLOCK_SEPARATOR = "\n\n"


@dataclass
class BlockText:
    """Collects blocks (paragraphs, list items, table rows, headings) in reading order.

    ``text()`` joins them with blank lines; each heading added with ``heading`` is recorded with
    its offset in that text, on page 1 (these formats have no pages)."""

    blocks: list[str] = field(default_factory=list)
    headings: list[Heading] = field(default_factory=list)
    _length: int = 0

    def add(self, text: str) -> None:
        """Append a paragraph-like block; blank blocks are skipped."""
        text = text.strip()
        if not text:
            return
        if self.blocks:
            self._length += len(BLOCK_SEPARATOR)
        self.blocks.append(text)
        self._length += len(text)

    def heading(self, level: int, text: str) -> None:
        """Append a heading block of ``level`` (1-6; deeper levels count as 6)."""
        text = " ".join(text.split())
        if not text:
            return
        offset = self._length + (len(BLOCK_SEPARATOR) if self.blocks else 0)
        self.headings.append(Heading(page=1, offset=offset, level=max(1, min(level, 6)), text=text))
        self.add(text)

    def text(self) -> str:
        """The blocks joined by blank lines."""
        return BLOCK_SEPARATOR.join(self.blocks)
