"""A faster tokenizer for PDF content streams, producing exactly what pypdf's own produces.

Why: parsing is what an ingest adds on top of embedding (issue #3), and about 60 % of pypdf's
``extract_text`` is ``ContentStream._parse_content_stream``, which reads the stream one byte at a
time through ``BytesIO`` (``read_object``, ``read_non_whitespace``, ``read_until_regex``). This
module reads the common tokens of a content stream — operators, numbers, names, literal and hex
strings, arrays of those (``TJ``) and dictionaries of those (marked content's ``<</MCID 3>>``,
``<</ActualText <FEFF00A0> >>``) — with one compiled regular expression over the whole stream,
and builds the same pypdf objects from the same bytes with pypdf's own constructors
(``NumberObject``, ``FloatObject``, ``NameObject``, ``create_string_object``, ``ArrayObject``,
``DictionaryObject``). Everything else — nested or odd dictionaries, escaped or nested strings,
comments inside arrays, inline images,
long or odd tokens, anything malformed — is handed to pypdf's ``read_object`` (or
``read_inline_image``) at the same position, so pypdf keeps deciding every case this module does not
claim, including the errors it raises. A stream that holds anything shaped like an indirect
reference (``1 0 R``) is left to pypdf whole.

pypdf's parsing budget (``stream_parsing_work_maximum_count``, its defence against hostile streams)
is charged the same amounts: one per operand and operator, two per inline image, one per array
element, two per dictionary entry; ``array_maximum_element_count`` holds per array and
``dictionary_maximum_element_count`` per dictionary.

:func:`install` swaps the method in; ``ingest.loaders.pdf`` calls it in the isolated parse child,
so the server process never runs patched pypdf. ``tests/unit/test_pdf_content.py`` checks that the
operations equal pypdf's on crafted edge cases, and ``tests/integration/test_real_pdfs.py`` that
every page of the shared corpus extracts the same text either way.
"""

from __future__ import annotations

import re
from io import BytesIO
from typing import Any

from pypdf._configuration import get_configuration
from pypdf.errors import LimitReachedError
from pypdf.generic import ArrayObject, ContentStream, DictionaryObject, FloatObject, NameObject, NumberObject
from pypdf.generic._data_structures import read_object
from pypdf.generic._image_inline import read_inline_image
from pypdf.generic._utils import StreamParsingBudget, create_string_object

__all__ = ["install", "installed", "parse_content_stream", "pypdf_parser"]

# pypdf's whitespace between top-level tokens (``pypdf._utils.WHITESPACES``) and inside arrays
# (those plus anything ``bytes.isspace`` accepts, i.e. also \x0b).
_TOP_SPACE = rb"[\x00\t\n\x0c\r ]*"
_ARRAY_SPACE = rb"[\x00\t\n\x0b\x0c\r ]*"
# A token runs until one of pypdf's delimiters (``NameObject.delimiter_pattern``: regex \s and
# ``()<>[]{}/%``); \x00 is not one of them.
_REGULAR = rb"[^\t\n\x0b\x0c\r ()<>\[\]{}/%]"
# pypdf starts a number at 0-9 + - . and continues it over [+-.0-9], a class that, written as pypdf
# writes it (``[^+-.0-9]``), also holds the comma.
_NUMBER = rb"[0-9+\-.][+,\-.0-9]*"
_STRING = rb"\((?P<str>[^()\\]*)\)"  # a literal string without escapes or nested parentheses
_HEX = rb"<(?P<hex>[0-9A-Fa-f\x00\t\n\x0c\r ]*)>"


def _alternatives(space: bytes, *tokens: bytes) -> re.Pattern[bytes]:
    """Optional ``space``, then the first of ``tokens`` (named groups) that matches."""
    return re.compile(space + b"(?:" + b"|".join(tokens) + b")")


_TOP = _alternatives(
    _TOP_SPACE,
    rb"(?P<op>[A-Za-z'\"]" + _REGULAR + rb"*)",
    rb"(?P<num>" + _NUMBER + rb")",
    rb"(?P<name>/" + _REGULAR + rb"*)",
    _STRING,
    rb"(?P<dict><<)",
    _HEX,
    rb"(?P<arr>\[)",
    rb"(?P<end>\Z)",
    rb"(?P<other>[^\x00\t\n\x0c\r ])",  # any other byte: pypdf reads it (or rejects it)
)
_ITEM = _alternatives(
    _ARRAY_SPACE,
    rb"(?P<num>" + _NUMBER + rb")",
    _STRING,
    _HEX,
    rb"(?P<name>/" + _REGULAR + rb"*)",
    rb"(?P<close>\])",
    rb"(?P<other>)",  # anything else: pypdf reads the whole array
)
# A dictionary's keys and values, after pypdf's whitespace (``read_non_whitespace``).
_KEY = _alternatives(
    _TOP_SPACE,
    rb"(?P<close>>>)",
    rb"(?P<name>/" + _REGULAR + rb"*)",
    rb"(?P<other>)",  # a comment, null, a lone ">", …: pypdf reads the whole dictionary
)
_VALUE = _alternatives(
    _TOP_SPACE,
    rb"(?P<num>" + _NUMBER + rb")",
    rb"(?P<name>/" + _REGULAR + rb"*)",
    _STRING,
    rb"(?P<dict><<)",  # nested: pypdf reads the whole dictionary
    _HEX,
    rb"(?P<other>)",
)
# pypdf reads a dictionary followed by the keyword ``stream`` as a stream object.
_STREAM_NEXT = re.compile(_TOP_SPACE + rb"s")
_HEX_SPACE = re.compile(rb"[\x00\t\n\x0c\r ]")
_COMMENT_END = re.compile(rb"[\r\n]")
_INDIRECT = re.compile(rb"\d\s+\d+\s+R[^a-zA-Z]")

# Tokens shorter than these are read whole by pypdf too (its reads stop 16 bytes past a limit, and a
# number is taken from a 20-byte peek); anything longer is left to pypdf.
_MAX_OPERATOR = 100
_MAX_NAME = 4000
_MAX_NUMBER = 18

_original: Any = None


def _number(token: bytes, end: int, size: int) -> Any:
    """The number ``token`` (ending at ``end`` of a ``size``-byte stream) as pypdf builds it, or
    None when pypdf must read it: too long for its 20-byte peek, or running to the stream's end."""
    if len(token) > _MAX_NUMBER or end == size:
        return None
    return FloatObject(token) if b"." in token else NumberObject(token)


def _name(token: bytes) -> Any:
    """The ``NameObject`` for ``token``, or None when pypdf must read it (``#`` escapes, non-UTF-8)."""
    if b"#" in token or len(token) > _MAX_NAME:
        return None
    try:
        return NameObject(token.decode("utf-8"))
    except UnicodeDecodeError:
        return None


def _hex(digits: bytes) -> bytes:
    """The bytes of a hex string's digits as pypdf reads them: whitespace skipped, an odd last
    digit padded with 0."""
    digits = _HEX_SPACE.sub(b"", digits)
    if len(digits) % 2:
        digits += b"0"
    return bytes.fromhex(digits.decode("ascii"))


def _array(data: bytes, at: int, encoding: Any) -> tuple[Any, int] | None:
    """The array whose ``[`` is at ``at`` in ``data`` and the position after its ``]``, when every
    item is simple; None when pypdf must read it (a comment, null, a nested array, a dictionary,
    no ``]``…). Raises ``LimitReachedError`` past pypdf's array element limit."""
    values = ArrayObject()
    append = values.append
    size = len(data)
    cursor = at + 1
    while True:
        found: Any = _ITEM.match(data, cursor)  # never None: the last alternative is empty
        kind = found.lastgroup
        if kind == "close":
            break
        if kind == "num":
            value = _number(found[kind], found.end(), size)
        elif kind == "str":
            value = create_string_object(found[kind], encoding)
        elif kind == "hex":
            value = create_string_object(_hex(found[kind]), encoding)
        elif kind == "name":
            value = _name(found[kind])
        else:
            return None
        if value is None:
            return None
        append(value)
        cursor = found.end()
    if len(values) > get_configuration().array_maximum_element_count:
        raise LimitReachedError("Reached maximum array element count.")
    return values, found.end()


def _dictionary(data: bytes, at: int, encoding: Any) -> tuple[Any, int, int] | None:
    """The dictionary whose ``<<`` is at ``at`` in ``data``, the position after its ``>>`` and its
    entry count, when every key is a plain name and every value a number, name or plain string
    (what marked content holds); None when pypdf must read it. A repeated key keeps its first
    value, as in pypdf (``DictionaryObject.read_from_stream``), which reads keys without the
    forced encoding and values with it."""
    entries: dict[Any, Any] = {}
    size = len(data)
    cursor = at + 2
    count = 0
    while True:
        found: Any = _KEY.match(data, cursor)  # never None: the last alternative is empty
        kind = found.lastgroup
        if kind == "close":
            break
        key = _name(found[kind]) if kind == "name" else None
        if key is None:
            return None
        value_found: Any = _VALUE.match(data, found.end())
        kind = value_found.lastgroup
        if kind == "num":
            value = _number(value_found[kind], value_found.end(), size)
        elif kind == "name":
            value = _name(value_found[kind])
        elif kind == "str":
            value = create_string_object(value_found[kind], encoding)
        elif kind == "hex":
            value = create_string_object(_hex(value_found[kind]), encoding)
        else:
            return None
        if value is None:
            return None
        entries.setdefault(key, value)
        count += 1
        cursor = value_found.end()
    end = found.end()
    if count > get_configuration().dictionary_maximum_element_count or _STREAM_NEXT.match(data, end):
        return None
    result = DictionaryObject()
    result.update(entries)
    return result, end, count


def parse_content_stream(self: Any, stream: BytesIO) -> None:
    """Drop-in for ``pypdf.generic.ContentStream._parse_content_stream``: append the stream's
    ``(operands, operator)`` pairs to ``self._operations``, equal to what pypdf's own method appends.

    Raises what pypdf raises for the same stream (``LimitReachedError`` past the parsing budget,
    ``PdfReadError``/``PdfStreamError`` for malformed tokens), because pypdf reads every case this
    tokenizer does not claim."""
    data = stream.getvalue()
    operations = self._operations
    if _INDIRECT.search(data):  # pypdf reads references (and fails on them): leave it the stream
        pypdf_parser()(self, stream)
        return
    budget = StreamParsingBudget(remaining_budget=get_configuration().stream_parsing_work_maximum_count)
    encoding = self.forced_encoding
    operands: list[Any] = []
    size = len(data)
    pos = 0
    left = budget.remaining_budget  # pypdf's budget, kept in a local while this loop charges it
    while True:
        found: Any = _TOP.match(data, pos)  # never None: ``other`` takes any byte, ``end`` the end
        kind = found.lastgroup
        if kind == "end":
            break
        if kind == "op":
            token = found[kind]
            if len(token) > _MAX_OPERATOR:  # near pypdf's length limit: pypdf reads the stream
                del operations[:]
                stream.seek(0)
                pypdf_parser()(self, stream)
                return
            if token == b"BI":
                assert operands == []  # as pypdf asserts
                budget.remaining_budget = left - 2
                stream.seek(found.end())
                operations.append(
                    (read_inline_image(content_stream=self, stream=stream, parsing_budget=budget), b"INLINE IMAGE")
                )
                pos = stream.tell()
                left = budget.remaining_budget
            else:
                left -= 1
                operations.append((operands, token))
                operands = []
                pos = found.end()
        elif kind == "other" and found[kind] == b"%":  # a comment: skipped past its line end
            line_end = _COMMENT_END.search(data, found.start(kind))
            pos = size if line_end is None else line_end.end()
        else:  # an operand
            left -= 1
            value: Any = None
            after = found.end()
            if kind == "num":
                value = _number(found[kind], found.end(), size)
            elif kind == "hex":
                value = create_string_object(_hex(found[kind]), encoding)
            elif kind == "str":
                value = create_string_object(found[kind], encoding)
            elif kind == "name":
                value = _name(found[kind])
            elif kind == "arr" and (read := _array(data, found.start(kind), encoding)) is not None:
                value, after = read
                left -= len(value)  # one per item, as pypdf charges
            elif kind == "dict" and (entries := _dictionary(data, found.start(kind), encoding)) is not None:
                value, after, count = entries
                left -= 2 * count  # two per entry, as pypdf charges
            if value is None:  # a dictionary, an escaped string, a malformed byte, …: pypdf decides
                budget.remaining_budget = left
                stream.seek(found.start(kind))
                value = read_object(stream, None, encoding, parsing_budget=budget)
                pos = stream.tell()
                left = budget.remaining_budget
            else:
                pos = after
            operands.append(value)
        if left < 0:
            raise LimitReachedError("Reached maximum number of tokens per stream.")


def install() -> None:
    """Use :func:`parse_content_stream` for every ``ContentStream`` in this process (idempotent)."""
    global _original
    if _original is None:
        _original = ContentStream._parse_content_stream
        ContentStream._parse_content_stream = parse_content_stream  # type: ignore[method-assign,assignment]


def pypdf_parser() -> Any:
    """pypdf's own ``ContentStream._parse_content_stream``, installed or not."""
    return _original if _original is not None else ContentStream._parse_content_stream


def installed() -> bool:
    """Whether :func:`install` has run in this process."""
    return _original is not None
