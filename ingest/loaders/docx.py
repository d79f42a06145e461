"""DOCX with python-docx: paragraphs and tables in document order; the ``Title`` paragraph style
becomes a level-1 heading and ``Heading N`` level N + 1 (capped at 6)."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from ingest.loaders import ParsedDocument, ParseError
from ingest.loaders.blocks import BlockText

__all__ = ["load_docx"]

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.IGNORECASE)


def load_docx(path: Path) -> ParsedDocument:
    """The document body as one page (Word has no fixed pages), headings from paragraph styles,
    title from the core properties or the first ``Title`` paragraph. Raises ``ParseError``
    (``malformed`` for a file that is not a Word document, ``no_text_layer`` when it has no text)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ParseError("malformed", f"not a readable Word document: {exc}") from exc
    out = BlockText()
    title = (document.core_properties.title or "").strip() or None
    for item in document.iter_inner_content():
        if isinstance(item, Table):
            for row in item.rows:
                cells: list[str] = []
                for cell in row.cells:  # merged cells repeat: keep each text once per row
                    text = " ".join(cell.text.split())
                    if text and (not cells or cells[-1] != text):
                        cells.append(text)
                out.add(" | ".join(cells))
            continue
        style = (item.style.name if item.style is not None else "") or ""
        level = 1 if style.lower() == "title" else None
        match = _HEADING_STYLE.match(style)
        if match:  # under the Title: Heading 1 is level 2, and so on
            level = int(match.group(1)) + 1
        if level is not None:
            if style.lower() == "title" and not title:
                title = " ".join(item.text.split()) or None
            out.heading(level, item.text)
        else:
            out.add(item.text)
    text = out.text()
    if not text.strip():
        raise ParseError("no_text_layer", "the Word document has no text")
    return ParsedDocument(pages=[text], title=title, headings=out.headings)
