"""PDF page texts with pypdf.

Encrypted files open when the empty password works (AES needs ``pypdf[crypto]``); others fail with
``password_required``. Pages without a text layer are counted, never invented. pypdf's array limit
is raised (some real 10-Q filings exceed 100,000 elements) — safe because this runs under the
isolated parse's memory limit. Content streams are tokenized by ``ingest.loaders.pdf_content``
(pypdf's objects from pypdf's constructors, about a third less parse time).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from ingest.loaders import ParsedDocument, ParseError, ProgressFn

__all__ = ["load_pdf"]

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


def load_pdf(path: Path, progress: ProgressFn | None = None) -> ParsedDocument:
    """Page texts of the PDF at ``path``. Raises ``ParseError``."""
    import pypdf
    from pypdf.errors import FileNotDecryptedError, PdfReadError

    from ingest.loaders import pdf_content

    logging.getLogger("pypdf").setLevel(logging.ERROR)
    pdf_content.install()
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
    return ParsedDocument(pages=pages, pages_without_text=empty, title=title)
