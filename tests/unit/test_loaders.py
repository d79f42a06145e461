"""Loaders and the isolated parse: real PDFs written by the test, text encodings, hostile input."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from ingest.loaders import ParseError, content_type_for, parse_isolated
from ingest.loaders.text import decode_text
from tests.fixtures.pdfgen import make_pdf


def test_pdf_pages_come_back_in_order(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "three.pdf", ["Alpha page text here.", "Beta page (second).", "Gamma page, third."])
    parsed = parse_isolated(pdf, "application/pdf", timeout_s=60, memory_mb=1024)
    assert len(parsed.pages) == 3
    assert "Alpha" in parsed.pages[0] and "Beta page (second)" in parsed.pages[1] and "Gamma" in parsed.pages[2]
    assert parsed.pages_without_text == 0


def test_pages_without_text_are_counted(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "gap.pdf", ["Some words on the first page.", "", "Words again on page three."])
    parsed = parse_isolated(pdf, "application/pdf", timeout_s=60, memory_mb=1024)
    assert parsed.pages_without_text == 1 and parsed.pages[1].strip() == ""


def test_a_pdf_with_no_text_at_all_fails_as_scanned(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "blank.pdf", ["", ""])
    with pytest.raises(ParseError) as info:
        parse_isolated(pdf, "application/pdf", timeout_s=60, memory_mb=1024)
    assert info.value.code == "no_text_layer"


def test_garbage_fails_its_own_parse_with_a_reason(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.4\n" + b"\x00garbage" * 1000)
    with pytest.raises(ParseError) as info:
        parse_isolated(bad, "application/pdf", timeout_s=60, memory_mb=1024)
    assert info.value.code == "malformed"


def test_time_limit_kills_the_parser(tmp_path: Path) -> None:
    import multiprocessing
    import time

    pdf = make_pdf(tmp_path / "slow.pdf", ["many words on every page " * 30] * 3000)  # several seconds of parsing
    seen: list[int] = []
    started = time.monotonic()
    with pytest.raises(ParseError) as info:
        parse_isolated(pdf, "application/pdf", timeout_s=1.5, memory_mb=1024, progress=lambda d, t: seen.append(d))
    assert info.value.code == "timeout"
    assert seen, "the parser was running (it reported pages) when it was stopped"
    assert time.monotonic() - started < 10
    assert multiprocessing.active_children() == []


def test_memory_limit_fails_cleanly(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "small.pdf", ["hello world and more words"])
    with pytest.raises(ParseError) as info:
        parse_isolated(pdf, "application/pdf", timeout_s=60, memory_mb=16)  # too little to even import pypdf
    assert info.value.code in ("memory_limit", "parser_crashed")


def test_unsupported_extension_names_the_supported_ones() -> None:
    with pytest.raises(ParseError) as info:
        content_type_for("virus.exe")
    assert info.value.code == "unsupported_format" and ".pdf" in info.value.message


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (codecs.BOM_UTF8 + "Café ☕".encode(), "Café ☕"),
        ("Café ☕".encode("utf-16"), "Café ☕"),
        ("naïve façade".encode(), "naïve façade"),
        ("naïve façade".encode("latin-1"), "naïve façade"),
    ],
)
def test_text_encodings(raw: bytes, expected: str) -> None:
    assert decode_text(raw) == expected


def test_markdown_title_and_text(tmp_path: Path) -> None:
    md = tmp_path / "notes.md"
    md.write_text("# Field notes\n\nThe kiln reached 1,280 °C on Tuesday.\n", encoding="utf-8")
    parsed = parse_isolated(md, "text/markdown", timeout_s=60, memory_mb=1024)
    assert parsed.title == "Field notes" and "1,280 °C" in parsed.pages[0]
