"""Plain text: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252/Latin-1."""

from __future__ import annotations

import codecs
from pathlib import Path

from ingest.loaders import ParsedDocument, ParseError

__all__ = ["decode_text", "load_text"]


def decode_text(raw: bytes) -> str:
    """Decode ``raw`` by its BOM, else strict UTF-8, else cp1252, else Latin-1 (never fails)."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8-sig"),
        (codecs.BOM_UTF16_LE, "utf-16"),
        (codecs.BOM_UTF16_BE, "utf-16"),
    ):
        if raw.startswith(bom):
            return raw.decode(encoding)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def load_text(path: Path) -> ParsedDocument:
    """The file as one page of text. Raises ``ParseError('no_text_layer')`` when it holds no text."""
    text = decode_text(path.read_bytes()).replace("\r\n", "\n").replace("\x00", "")
    if not text.strip():
        raise ParseError("no_text_layer", "the file is empty")
    return ParsedDocument(pages=[text])
