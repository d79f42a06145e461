"""The fast content-stream tokenizer gives exactly pypdf's operations (or pypdf's error) for the
same bytes: crafted edge cases, then streams generated from the content-stream grammar with
hostile bytes mixed in."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from io import BytesIO
from typing import Any

import pypdf
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypdf.generic import ContentStream

from ingest.loaders import pdf_content


def _shape(value: Any) -> Any:
    """A comparable picture of a pypdf object: its type and value, recursively (``1 == 1.0`` in
    Python, but a ``NumberObject`` is not a ``FloatObject``)."""
    if isinstance(value, dict):
        return (type(value).__name__, sorted((_shape(k), _shape(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return (type(value).__name__, [_shape(v) for v in value])
    if isinstance(value, float):
        return (type(value).__name__, repr(float(value)))
    return (type(value).__name__, value)


def _parse(data: bytes, parser: Any, forced_encoding: Any = None) -> Any:
    """The operations ``parser`` reads from ``data`` as a content stream, or the type of what it raised."""
    stream = ContentStream(None, None, forced_encoding)
    stream.set_data(data)
    try:
        parser(stream, BytesIO(data))
    except Exception as exc:  # both sides must fail alike
        return ("raised", type(exc).__name__)
    return _shape(stream._operations)


def assert_same(data: bytes, forced_encoding: Any = None) -> None:
    ours = _parse(data, pdf_content.parse_content_stream, forced_encoding)
    theirs = _parse(data, pdf_content.pypdf_parser(), forced_encoding)
    assert ours == theirs, data


@contextmanager
def _configured(**limits: int) -> Iterator[None]:
    from pypdf._configuration import get_configuration

    config = get_configuration()
    before = {name: getattr(config, name) for name in limits}
    pypdf.overwrite_configuration(**limits)
    try:
        yield
    finally:
        pypdf.overwrite_configuration(**before)


CASES = [
    b"",
    b"   \n\r\t\x00 ",
    b"BT /F1 12 Tf 72 712 Td (Hello, world) Tj ET",
    b"BT /F1 12.5 Tf -3 .5 +4 -.25 Td 1,2 0.0 Tz ET",  # signs, leading dot, pypdf's comma
    b"q 1 0 0 1 0 0 cm 0 0 612 792 re W n Q",
    b"BT [(A) -120 (W) 30.5 <0041> /N] TJ ET",
    b"BT [ (a)\x0b(b) ] TJ ET",  # \x0b separates inside an array only
    b"BT (a)\x0bTj ET",
    b"BT <48656c6c6f> Tj <4 8 6\n5 6> Tj <486> Tj <> Tj ET",  # whitespace, odd length, empty
    b"BT <48G5> Tj ET",  # not hex: pypdf raises
    b"BT (esc\\) \\(aped\\) \\101\\12\\n) Tj (nest (ed) paren) Tj (line\\\ncontinued) Tj ET",
    b"BT (unterminated Tj ET",
    b"BT [(a) null true false (b)] TJ ET",
    b"BT [(a) [1 2] (b)] TJ ET",
    b"BT [(a) % comment\n (b)] TJ ET",
    b"BT [(a) (b) ET",  # unterminated array at the end of the stream
    b"/Span <</MCID 3 /ActualText (x)>> BDC (t) Tj EMC",
    b"/P <</MCID 0>>BDC EMC /Artifact BMC EMC",
    # marked-content dictionaries: read here when keys are names and values numbers, names, strings
    b"/Span <</ActualText <FEFF00A0> >> BDC <0003> Tj EMC",
    b"/Span <</Lang (en-US)/MCID 12 /E (x) /Alt<41 42>>>BDC EMC",
    b"/Span<<>>BDC EMC /S <<\n/MCID\r\n3\x00>> BDC EMC",
    b"/P <</MCID 1 /MCID 2>> BDC EMC",  # a repeated key keeps its first value
    b"/P <</Type /Span /N /#41 /V 1.5 /W -.5>> BDC EMC",  # an escaped name: pypdf reads it
    b"/P <</A [1 2] /B 3>> BDC EMC",  # values left to pypdf: array, dictionary, boolean, null
    b"/P <</A <</B 1>> >> BDC EMC",
    b"/P <</A true /B null>> BDC EMC",
    b"/P <</A>> BDC EMC",  # a key without a value
    b"/P <</A (esc\\)aped)>> BDC EMC",
    b"/P <<% comment\n/A 1>> BDC EMC",
    b"/P <</A 1> BDC EMC",  # a lone ">"
    b"/P <</A 1 2>> BDC EMC",  # a number where a key belongs
    b"/P <</Length 3>> stream\nabc\nendstream EMC",  # a stream object
    b"/P <</Length 3>>\nsx BDC EMC",
    b"/P <</A 1",  # unterminated at the end of the stream
    b"/P <</A 12345678901234567890123>> BDC EMC",
    b"% a comment\nBT (x) Tj % trailing\rET %at the end",
    b"BT /F#201 12 Tf /A#2 1 Tf /\xc3\xa9t\xc3\xa9 1 Tf /\xff\xfe 1 Tf ET",  # escapes, UTF-8, not UTF-8
    b"BT /F1 12 Tf\x00(x)Tj\x00ET",
    b"BT ) Tj ET",  # stray bytes pypdf rejects
    b"BT { Tj ET",
    b"BT 1 0 R Tj ET",  # an indirect reference, which pypdf cannot resolve in a content stream
    b"0 0 1 RG 1 0 0 rg 0 0 m 1 1 l S",
    b"BT 12345678901234567890123 Tj 1.2.3 Tj -- Tj . Tj ET",  # long and malformed numbers
    b"BT 42",  # a number at the very end
    b"BT " + b"1" * 70 + b" Tj ET",  # a number past pypdf's length limit
    b"BT (x) " + b"T" * 120 + b" ET",  # an operator past pypdf's length limit
    b"BT (x) " + b"T" * 99 + b" ET",
    b"BT /" + b"N" * 5000 + b" 1 Tf ET",  # a name past pypdf's length limit
    b"q BI /W 2 /H 1 /BPC 8 /CS /G ID \x00\xff EI Q BT (after) Tj ET",
    b"q BI /W 4 /H 4 /F /AHx ID 0011223344556677 > EI Q",
    b"1 BI /W 1 /H 1 ID x EI",  # operands before BI: pypdf asserts
    b"'quote \"dq (x) ' 1 2 (y) \"",
    b"BT\n[(1)-2(3)]TJ\n0 -1.1 TD\n[(4)]TJ\nET",
]


@pytest.mark.parametrize("data", CASES)
def test_crafted_streams_parse_as_pypdf_parses_them(data: bytes) -> None:
    assert_same(data)


def test_a_forced_encoding_decodes_strings_as_pypdf_does() -> None:
    encoding = ["\u0000"] * 65 + ["Ä", "ß"]
    assert_same(b"BT (AB) Tj <4142> Tj [(A) 5 <42>] TJ ET", encoding)
    assert_same(b"BT (AB) Tj <4142> Tj ET", {65: "x"})
    assert_same(b"/P <</A (AB) /B <4142>>> BDC EMC", encoding)  # dictionary values too


def test_the_budget_and_the_array_limit_hold_as_in_pypdf() -> None:
    tokens = b"BT " + b"1 2 Td " * 40 + b"ET"
    with _configured(stream_parsing_work_maximum_count=50):
        assert _parse(tokens, pdf_content.parse_content_stream) == ("raised", "LimitReachedError")
        assert_same(tokens)
    big_dictionary = b"/P <<" + b"".join(b"/K%d %d " % (i, i) for i in range(30)) + b">> BDC EMC"
    with _configured(dictionary_maximum_element_count=20):
        assert _parse(big_dictionary, pdf_content.parse_content_stream) == ("raised", "LimitReachedError")
        assert_same(big_dictionary)
    # /P, the dictionary (1 + 2 per entry), BDC and EMC: 64
    with _configured(stream_parsing_work_maximum_count=63):
        assert _parse(big_dictionary, pdf_content.parse_content_stream) == ("raised", "LimitReachedError")
        assert_same(big_dictionary)
    with _configured(stream_parsing_work_maximum_count=64):
        assert _parse(big_dictionary, pdf_content.parse_content_stream)[0] == "list"
        assert_same(big_dictionary)
    big_array = b"BT [" + b"(a) 1 " * 30 + b"] TJ ET"
    with _configured(array_maximum_element_count=20):
        assert _parse(big_array, pdf_content.parse_content_stream) == ("raised", "LimitReachedError")
        assert_same(big_array)
    with _configured(stream_parsing_work_maximum_count=10_000):
        assert _parse(big_array, pdf_content.parse_content_stream)[0] == "list"
    with _configured(stream_parsing_work_maximum_count=30):  # only the array's 60 items exceed it
        assert _parse(big_array, pdf_content.parse_content_stream) == ("raised", "LimitReachedError")
        assert_same(big_array)


_TOKENS = st.sampled_from(
    [
        b"BT",
        b"ET",
        b"Tj",
        b"TJ",
        b"Td",
        b"Tf",
        b"'",
        b'"',
        b"q",
        b"Q",
        b"cm",
        b"BDC",
        b"EMC",
        b"n",
        b"0",
        b"12",
        b"-3.5",
        b".25",
        b"+7",
        b"1,5",
        b"-",
        b"/F1",
        b"/A#20B",
        b"/\xc3\xa9",
        b"(text)",
        b"(a\\)b)",
        b"(a(b)c)",
        b"(\\101)",
        b"<48 65>",
        b"<486>",
        b"<>",
        b"<<",
        b">>",
        b"<</MCID 1>>",
        b"<</ActualText <FEFF00A0> >>",
        b"<</Lang (en) /MCID 2 /A /B /MCID 3>>",
        b"<</K 1.5 /S",
        b"<<>>",
        b"stream\n",
        b"[",
        b"]",
        b"[(a) -5 (b)]",
        b"null",
        b"true",
        b"%c\n",
        b"1 0 R",
        b")",
        b"{",
        b"\x0b",
        b"\x00",
        b"BI /W 1 /H 1 /BPC 8 /CS /G ID \x7f EI",
    ]
)
_SPACES = st.sampled_from([b" ", b"\n", b"\r\n", b"\t", b"", b"\x00", b"  "])


@st.composite
def content_streams(draw: st.DrawFn) -> bytes:
    """Streams of content-stream tokens, separators and now and then a random byte string."""
    parts: list[bytes] = []
    for _ in range(draw(st.integers(0, 40))):
        if draw(st.integers(0, 9)) == 0:
            parts.append(draw(st.binary(max_size=6)))
        else:
            parts.append(draw(_TOKENS))
        parts.append(draw(_SPACES))
    return b"".join(parts)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(content_streams())
def test_generated_streams_parse_as_pypdf_parses_them(data: bytes) -> None:
    assert_same(data)


def test_marked_content_dictionaries_are_read_without_pypdf(monkeypatch: pytest.MonkeyPatch) -> None:
    """The fast path takes them (34k per three filings fell back to pypdf before), with pypdf's result."""
    data = b"/Span <</MCID 0 /ActualText <FEFF00A0> /Lang (en)>> BDC (x) Tj EMC"
    expected = _parse(data, pdf_content.pypdf_parser())

    def no_fallback(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("handed to pypdf's read_object")

    monkeypatch.setattr(pdf_content, "read_object", no_fallback)
    assert _parse(data, pdf_content.parse_content_stream) == expected
