"""HTML: the main text (``<main>``, else ``<article>``, else ``<body>``) with its headings, parsed
by BeautifulSoup on the standard library's parser.

Scripts, styles, navigation, headers, footers, asides and forms are dropped; block elements become
paragraphs, table rows become ``cell | cell`` lines and ``<pre>`` keeps its whitespace. The encoding
comes from the BOM, the ``<meta charset>`` or detection (BeautifulSoup's UnicodeDammit).
"""

from __future__ import annotations

from pathlib import Path

from bs4 import BeautifulSoup, Comment, Tag
from bs4.element import NavigableString

from ingest.loaders import ParsedDocument, ParseError
from ingest.loaders.blocks import BlockText

__all__ = ["load_html"]

_DROP = ["script", "style", "noscript", "template", "svg", "nav", "header", "footer", "aside", "form", "iframe"]
_HEADINGS = {f"h{n}": n for n in range(1, 7)}
_BLOCKS = {
    "address", "article", "blockquote", "caption", "dd", "details", "div", "dl", "dt", "figcaption", "figure",
    "hr", "li", "main", "ol", "p", "section", "summary", "table", "tbody", "thead", "tfoot", "ul",
}  # fmt: skip


def load_html(path: Path) -> ParsedDocument:
    """The page's main text as one page, ``<title>`` (else the first ``<h1>``) as title, ``<h1>`` to ``<h6>``
    as headings. Raises ``ParseError('no_text_layer')`` when there is no text."""
    soup = BeautifulSoup(path.read_bytes(), "html.parser")
    title_tag = soup.find("title")
    title = title_tag.get_text(" ", strip=True) if title_tag else None
    for tag in soup.find_all(_DROP):
        tag.decompose()
    root = soup.find("main") or soup.find("article") or soup.find("body") or soup
    out = BlockText()
    line: list[str] = []
    _walk(root, out, line)
    out.add(" ".join("".join(line).split()))
    text = out.text()
    if not text.strip():
        raise ParseError("no_text_layer", "the HTML page has no text")
    if not title and out.headings:
        title = out.headings[0].text
    return ParsedDocument(pages=[text], title=title or None, headings=out.headings)


def _walk(node: Tag | BeautifulSoup, out: BlockText, line: list[str]) -> None:
    """Depth-first over ``node``'s children, gathering inline text into ``line`` and flushing it
    into ``out`` at block boundaries."""

    def flush() -> None:
        out.add(" ".join("".join(line).split()))
        line.clear()

    for child in node.children:
        if isinstance(child, Comment):
            continue
        if isinstance(child, NavigableString):
            line.append(str(child))
            continue
        if not isinstance(child, Tag):
            continue
        name = child.name
        if name in _HEADINGS:
            flush()
            out.heading(_HEADINGS[name], child.get_text(" ", strip=True))
        elif name == "pre":
            flush()
            out.add(child.get_text())
        elif name == "tr":
            flush()
            cells = [" ".join(c.get_text(" ", strip=True).split()) for c in child.find_all(["td", "th"])]
            out.add(" | ".join(c for c in cells if c))
        elif name == "br":
            line.append(" ")
        elif name in _BLOCKS:
            flush()
            _walk(child, out, line)
            flush()
        else:
            _walk(child, out, line)
