"""PDF page texts with pypdf.

Encrypted files open when the empty password works (AES needs ``pypdf[crypto]``); others fail with
``password_required``. Pages without a text layer are counted, never invented. pypdf's array limit
is raised (some real 10-Q filings exceed 100,000 elements) — safe because this runs under the
isolated parse's memory limit.

PDF text has no heading markup, so each page's title is inferred (``page_titles``): the first
title-like lines at the top of the page (all capitals, or every significant word capitalised;
running headers repeated on many pages are skipped), e.g. "ADOBE INC. CONSOLIDATED STATEMENTS OF
CASH FLOWS". Inferred, not marked up: retrieval uses it as a ranking signal and shows it as the
chunk's section, but it is not embedded (see ``api.retrieval.TITLE_WEIGHT``).
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from pathlib import Path
from typing import Any

from ingest.loaders import ParsedDocument, ParseError, ProgressFn

__all__ = ["load_pdf", "page_titles"]

#: Lines looked at from the top of each page, and the most kept for its title.
TITLE_SCAN_LINES = 6
TITLE_MAX_LINES = 2
TITLE_MAX_CHARS = 90
#: A line on at least this share of pages (and on 3 or more) is a running header or footer.
RUNNING_SHARE = 0.3
_SMALL_WORDS = frozenset(
    ["a", "an", "and", "as", "at", "by", "for", "from", "in", "of", "on", "or", "the", "to", "with", "&", "vs"]
)
_WORD = re.compile(r"[^\W\d_][\w'\u2019.&-]*")
_PARENTHESES = re.compile(r"\([^)]*\)")
_YEAR = re.compile(r"\b(?:19|20)\d\d\b")
_NUMBER = re.compile(r"\d+")

logger = logging.getLogger(__name__)

ARRAY_LIMIT = 5_000_000
DICT_LIMIT = 1_000_000


def _over_limit(page: Any) -> int:
    """1 when the page's content stream trips pypdf's decompression limit (``extract_text``
    swallows that and answers ""), else 0. Only asked of pages without text, whose content
    streams are small unless hostile."""
    from pypdf.errors import LimitReachedError, PdfReadError

    try:
        contents = page.get_contents()
        if contents is not None:
            contents.get_data()
    except LimitReachedError:
        return 1
    except (PdfReadError, KeyError, ValueError, TypeError, AttributeError):
        return 0
    return 0


def _normal(line: str) -> str:
    return " ".join(line.split()).lower()


def _title_like(line: str) -> bool:
    """A short line without closing punctuation, years or several numbers, whose words are all
    capitals, or whose significant words all start with a capital (parenthesised asides such as
    "(In millions)" ignored)."""
    if len(line) > TITLE_MAX_CHARS or (line.endswith((".", ",", ";", ":")) and not line.endswith("INC.")):
        return False
    if _YEAR.search(line) or len(_NUMBER.findall(line)) > 1:
        return False  # column headings of a table ("2022 2021 2020"), dates
    words = _WORD.findall(_PARENTHESES.sub(" ", line))
    if not words or sum(len(w) for w in words) < 4:
        return False
    if all(w.isupper() or not w.isalpha() for w in words) and any(len(w) > 1 and w.isupper() for w in words):
        return True
    significant = [w for w in words if w.lower() not in _SMALL_WORDS]
    return bool(significant) and all(w[0].isupper() for w in significant)


def page_titles(pages: list[str]) -> list[str]:
    """Per page (page 1 first), its inferred title (module docstring), "" where it has none."""
    tops = [[line.strip() for line in page.splitlines() if line.strip()][:TITLE_SCAN_LINES] for page in pages]
    seen = Counter(_normal(line) for lines in tops for line in set(lines))
    running = {line for line, n in seen.items() if n >= 3 and n >= RUNNING_SHARE * len(pages)}
    titles: list[str] = []
    for lines in tops:
        title: list[str] = []
        for line in lines:
            if _normal(line) in running or not _WORD.search(line):
                continue  # running headers, page numbers, rules
            if not _title_like(line):
                if title:
                    break
                continue
            title.append(" ".join(line.split()))
            if len(title) == TITLE_MAX_LINES:
                break
        titles.append(" ".join(title))
    return titles


def load_pdf(path: Path, progress: ProgressFn | None = None) -> ParsedDocument:
    """Page texts of the PDF at ``path``. Raises ``ParseError``."""
    import pypdf
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    pypdf.overwrite_configuration(array_maximum_element_count=ARRAY_LIMIT, dictionary_maximum_element_count=DICT_LIMIT)
    try:
        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except (NotImplementedError, FileNotDecryptedError) as exc:
                raise ParseError("password_required", f"password required ({exc})") from exc
            if not ok:
                raise ParseError("password_required", "password required: the PDF is encrypted with a password")
        total = len(reader.pages)
    except ParseError:
        raise
    except FileNotDecryptedError as exc:
        raise ParseError("password_required", "password required: the PDF is encrypted with a password") from exc
    except PdfReadError as exc:
        raise ParseError("malformed", f"not a readable PDF: {exc}") from exc
    if total == 0:
        raise ParseError("malformed", "the PDF has no pages")

    pages: list[str] = []
    empty = limited = 0
    for number in range(total):
        try:
            text = reader.pages[number].extract_text() or ""
        except (PdfReadError, KeyError, ValueError, TypeError, AttributeError) as exc:
            logger.warning("page %d of %s unreadable: %s", number + 1, path.name, exc)
            text = ""
        text = text.replace("\x00", "")
        if not text.strip():
            empty += 1
            limited += _over_limit(reader.pages[number])
        pages.append(text)
        if progress is not None and (number % 5 == 4 or number == total - 1):
            progress(number + 1, total)
    if empty == total and limited:
        raise ParseError(
            "malformed", f"{limited} of {total} pages inflate past pypdf's safety limits (a decompression bomb?)"
        )
    if empty == total:
        raise ParseError("no_text_layer", f"no text layer (scanned?): none of its {total} pages has extractable text")
    title = None
    try:
        if reader.metadata and reader.metadata.title:
            title = str(reader.metadata.title).strip() or None
    except (PdfReadError, KeyError, ValueError, TypeError):
        title = None
    return ParsedDocument(pages=pages, pages_without_text=empty, title=title, page_titles=page_titles(pages))
