"""Chunks remember their page and their exact character span in the document text."""

from __future__ import annotations

from itertools import pairwise

from ingest.chunking import PAGE_SEPARATOR, chunk_id_for, chunk_pages, document_text

PAGES = [
    "Page one talks about the harbour. " * 40,  # ~1,360 chars: several chunks
    "",  # a page with no text layer
    "3",  # a page number only: dropped
    "Page four holds the only mention of the lighthouse keeper, Mrs Ingrid Solberg, who served 31 years.",
]


def test_every_chunk_is_the_exact_slice_of_the_document_text() -> None:
    text, spans = document_text(PAGES)
    chunks = chunk_pages(PAGES, chunk_size=300, chunk_overlap=50)
    assert chunks, "expected chunks"
    for chunk in chunks:
        assert text[chunk.char_start : chunk.char_end] == chunk.text
        page_start, page_end = spans[chunk.page_start - 1]
        assert page_start <= chunk.char_start < chunk.char_end <= page_end
        assert chunk.page_start == chunk.page_end


def test_pages_are_one_based_and_empty_or_tiny_pages_yield_nothing() -> None:
    chunks = chunk_pages(PAGES, chunk_size=300, chunk_overlap=50)
    pages = {c.page_start for c in chunks}
    assert pages == {1, 4}
    keeper = [c for c in chunks if "lighthouse keeper" in c.text]
    assert len(keeper) == 1 and keeper[0].page_start == 4


def test_long_pages_split_under_the_size_limit_with_overlap() -> None:
    chunks = [c for c in chunk_pages(PAGES, chunk_size=300, chunk_overlap=50) if c.page_start == 1]
    assert len(chunks) >= 4
    assert all(len(c.text) <= 300 for c in chunks)
    # consecutive chunks overlap (the splitter's chunk_overlap) and advance
    for before, after in pairwise(chunks):
        assert after.char_start < before.char_end
        assert after.char_start > before.char_start


def test_document_text_spans_match_the_separator() -> None:
    text, spans = document_text(["ab", "cde", ""])
    assert text == "ab" + PAGE_SEPARATOR + "cde" + PAGE_SEPARATOR
    assert [text[s:e] for s, e in spans] == ["ab", "cde", ""]


def test_chunk_ids_are_deterministic_and_distinct() -> None:
    a = chunk_id_for("f" * 64, 1, 0)
    assert a == chunk_id_for("f" * 64, 1, 0)
    assert len({a, chunk_id_for("f" * 64, 1, 1), chunk_id_for("f" * 64, 2, 0), chunk_id_for("e" * 64, 1, 0)}) == 4


def test_document_context_uses_the_file_name_and_a_meaningful_title() -> None:
    from ingest.chunking import document_context

    assert document_context("3M_2018_10K.pdf", "10-K - 02/07/2019 - 3M Company") == (
        "3M 2018 10K · 10-K - 02/07/2019 - 3M Company"
    )
    assert document_context("2022 Q3 AMZN.pdf", "0001018724-22-000023") == "2022 Q3 AMZN"  # accession number
    assert document_context("notes.md", None) == "notes"
    assert document_context("Annual Report.pdf", "annual report") == "Annual Report"


def test_chunk_sections_follow_the_heading_hierarchy() -> None:
    from ingest.chunking import chunk_sections
    from ingest.loaders import Heading

    body = "Words in this paragraph repeat to fill the section. " * 12
    page = f"Report\n\n{body}\n\nRevenue\n\n{body}\n\nEurope\n\n{body}\n\nOutlook\n\n{body}"
    headings = [
        Heading(1, page.index("Report"), 1, "Report"),
        Heading(1, page.index("Revenue"), 2, "Revenue"),
        Heading(1, page.index("Europe"), 3, "Europe"),
        Heading(1, page.index("Outlook"), 2, "Outlook"),
    ]
    chunks = chunk_pages([page], chunk_size=700, chunk_overlap=0, headings=headings)
    _, spans = document_text([page])
    for chunk in chunks:  # cut at headings: no chunk runs on into the next section
        assert not any(chunk.char_start < h.offset < chunk.char_end for h in headings), chunk
    sections = chunk_sections(chunks, headings, spans)
    by_position = {c.char_start: s for c, s in zip(chunks, sections, strict=True)}
    assert sections[0] == "Report"
    europe = next(c for c in chunks if c.text.startswith("Europe"))
    assert by_position[europe.char_start] == "Report > Revenue > Europe"
    assert sections[-1] == "Report > Outlook"  # a level-2 heading closes the level-3 one
    assert chunk_sections(chunks, [], spans) == [""] * len(chunks)


STATEMENT_PAGE = (
    "Table of Contents\n \n3M Company and Subsidiaries\nConsolidated Balance Sheet\nAt December 31\n \n"
    + "".join(f"Line item number {i} of the current assets\n$\n{1000 + i:,}\n \n" for i in range(60))
)
PROSE_PAGE = (
    "continued from the page before, this paragraph runs on for well over eighty characters in its first line.\n"
    + "More prose follows on this page and it says nothing of a heading at all. " * 30
)


def test_page_heading_is_the_leading_short_lines_of_a_page() -> None:
    from ingest.chunking import PAGE_HEADING_CHARS, page_heading

    heading, begin = page_heading(STATEMENT_PAGE)
    assert heading.startswith("Table of Contents 3M Company and Subsidiaries Consolidated Balance Sheet At December 31")
    assert len(heading) <= PAGE_HEADING_CHARS and not heading.endswith(" ")
    assert begin == 0
    assert page_heading(PROSE_PAGE) == ("", 0)  # a page that opens mid-paragraph has none
    assert page_heading("\n  \n  Notes to the Financial Statements\n" + PROSE_PAGE)[1] == 6  # where it starts


def test_page_headings_go_to_the_chunks_below_the_heading_only() -> None:
    from ingest.chunking import page_headings

    pages = [STATEMENT_PAGE, PROSE_PAGE]
    _, spans = document_text(pages)
    chunks = chunk_pages(pages, chunk_size=300, chunk_overlap=50)
    labels = page_headings(chunks, pages, spans)
    first = [c for c in chunks if c.page_start == 1]
    assert len(first) >= 3
    assert labels[first[0].ordinal] == ""  # it holds the heading itself (ordinals index the chunks)
    assert {labels[c.ordinal] for c in first[1:]} == {labels[first[1].ordinal]}
    assert "Consolidated Balance Sheet" in labels[first[1].ordinal]
    assert all(labels[c.ordinal] == "" for c in chunks if c.page_start == 2)
