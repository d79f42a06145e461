"""Loaders and the isolated parse: real PDFs written by the test, text encodings, hostile input."""

from __future__ import annotations

import codecs
from pathlib import Path

import pytest

from ingest.loaders import ParseError, content_type_for, parse_isolated, parses_running
from ingest.loaders.text import decode_text
from tests.fixtures.pdfgen import make_pdf, write_pdf


def test_pdf_pages_come_back_in_order(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "three.pdf", ["Alpha page text here.", "Beta page (second).", "Gamma page, third."])
    parsed = parse_isolated(pdf, "application/pdf", timeout_s=60, memory_mb=1024)
    assert len(parsed.pages) == 3
    assert "Alpha" in parsed.pages[0] and "Beta page (second)" in parsed.pages[1] and "Gamma" in parsed.pages[2]
    assert parsed.pages_without_text == 0


def test_a_running_parse_is_counted_until_it_ends_or_fails(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "ten.pdf", [f"Page {n} holds a few words." for n in range(1, 11)])
    during: list[int] = []
    parse_isolated(
        pdf, "application/pdf", timeout_s=60, memory_mb=1024, progress=lambda d, t: during.append(parses_running())
    )
    assert during == [1, 1] and parses_running() == 0  # progress after pages 5 and 10
    blank = make_pdf(tmp_path / "blank.pdf", [""])
    with pytest.raises(ParseError):
        parse_isolated(blank, "application/pdf", timeout_s=60, memory_mb=1024)
    assert parses_running() == 0


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


def test_markdown_headings_skip_fenced_code(tmp_path: Path) -> None:
    md = tmp_path / "guide.md"
    source = "# Guide\n\nIntro.\n\n## Install\n\n```sh\n# not a heading\n```\n\n### On Linux\n\nRun it.\n"
    md.write_text(source, encoding="utf-8")
    parsed = parse_isolated(md, "text/markdown", timeout_s=60, memory_mb=1024)
    assert [(h.level, h.text) for h in parsed.headings] == [(1, "Guide"), (2, "Install"), (3, "On Linux")]
    for heading in parsed.headings:  # offsets point at the heading line in the page text
        assert parsed.pages[0][heading.offset :].lstrip("# ").startswith(heading.text)


HTML_PAGE = """<!doctype html><html><head><meta charset="windows-1252"><title>Kiln log</title>
<style>body { color: red }</style><script>var secret = "do not index";</script></head>
<body><nav><a href="/">Home</a> | <a href="/about">About navigation</a></nav>
<main><h1>Kiln log</h1><p>The kiln reached <b>1,280 \xb0C</b> on Tuesday.</p>
<h2>Glazes</h2><ul><li>Celadon, fired twice</li><li>Tenmoku</li></ul>
<table><tr><th>Cone</th><th>Temp</th></tr><tr><td>10</td><td>1,305</td></tr></table>
<h3>Failures</h3><p>Crawling<br>on the rim.</p><!-- a comment --></main>
<footer>Copyright footer text</footer></body></html>"""


def test_html_keeps_main_text_and_headings_and_drops_boilerplate(tmp_path: Path) -> None:
    page = tmp_path / "kiln.html"
    page.write_bytes(HTML_PAGE.encode("cp1252"))  # the <meta charset> must be honoured
    parsed = parse_isolated(page, "text/html", timeout_s=60, memory_mb=1024)
    text = parsed.pages[0]
    assert parsed.title == "Kiln log"
    assert "The kiln reached 1,280 °C on Tuesday." in text
    assert "Celadon, fired twice" in text and "Cone | Temp" in text and "10 | 1,305" in text
    assert "Crawling on the rim." in text
    for unwanted in ("secret", "color: red", "navigation", "footer", "comment"):
        assert unwanted not in text
    assert [(h.level, h.text) for h in parsed.headings] == [(1, "Kiln log"), (2, "Glazes"), (3, "Failures")]
    for heading in parsed.headings:
        assert text[heading.offset : heading.offset + len(heading.text)] == heading.text


def test_docx_paragraphs_tables_and_heading_styles(tmp_path: Path) -> None:
    import docx

    document = docx.Document()
    document.add_heading("Annual report", level=0)  # the Title style
    document.add_heading("Revenue", level=1)
    document.add_paragraph("Revenue grew 12% to $4.1 billion.")
    table = document.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Region", "Sales"
    table.cell(1, 0).text, table.cell(1, 1).text = "Europe", "1.2"
    document.add_heading("Outlook", level=2)
    document.add_paragraph("Flat next year.")
    path = tmp_path / "report.docx"
    document.save(str(path))
    parsed = parse_isolated(path, content_type_for("report.docx"), timeout_s=60, memory_mb=1024)
    text = parsed.pages[0]
    assert parsed.title == "Annual report"
    assert text.index("Revenue grew 12%") < text.index("Region | Sales") < text.index("Europe | 1.2")
    assert text.index("Europe | 1.2") < text.index("Flat next year.")
    assert [(h.level, h.text) for h in parsed.headings] == [(1, "Annual report"), (2, "Revenue"), (3, "Outlook")]


def test_a_file_that_is_not_a_word_document_fails_as_malformed(tmp_path: Path) -> None:
    fake = tmp_path / "fake.docx"
    fake.write_bytes(b"PK\x03\x04 this is not really a zip file" * 10)
    with pytest.raises(ParseError) as info:
        parse_isolated(fake, content_type_for("fake.docx"), timeout_s=60, memory_mb=1024)
    assert info.value.code == "malformed"


def _bomb_pdf(path: Path, expanded_mb: int) -> Path:
    """A one-page PDF whose content stream inflates (FlateDecode) to ``expanded_mb`` MB of spaces."""
    import zlib

    packer = zlib.compressobj(9)
    block = b" " * (1 << 20)
    stream = b"".join(packer.compress(block) for _ in range(expanded_mb)) + packer.flush()
    return write_pdf(
        path,
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        ],
    )


def test_a_decompression_bomb_fails_its_own_parse_and_nothing_else(tmp_path: Path) -> None:
    bomb = _bomb_pdf(tmp_path / "bomb.pdf", expanded_mb=1500)
    assert bomb.stat().st_size < 5 << 20  # a few MB on disk, 1.5 GB inflated
    with pytest.raises(ParseError) as info:
        parse_isolated(bomb, "application/pdf", timeout_s=60, memory_mb=768)
    assert info.value.code == "malformed" and "decompression bomb" in info.value.message, info.value
    # the parent is untouched and the next parse works
    ok = make_pdf(tmp_path / "fine.pdf", ["Still parsing after the bomb."])
    assert "Still parsing" in parse_isolated(ok, "application/pdf", timeout_s=60, memory_mb=768).pages[0]
