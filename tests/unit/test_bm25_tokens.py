"""The in-memory BM25's tokens are FTS5's: the same words, folded and stemmed alike."""

from __future__ import annotations

import sqlite3

import pytest

from ingest.bm25 import ChunkTerms, chunk_tokens

SAMPLES = [
    "Café résumé: the naïve coöperation of Zürich's Ångström labs.",
    "Net income (FY2018) was $5,349 million; 3M_2018_10K reports PP&E of 8,738.",
    "Operating margins widened — revenues grew 12.5% year-over-year, per the CFO's letter.",
    "Façade and œuvre; 東京 and Ελληνικά stay whole words, as do a, an, it's and I.",
]


def _fts5_terms(text: str) -> list[str]:
    """The terms FTS5 indexes for ``text`` with docent's tokenizer, in order."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61 remove_diacritics 2')")
    db.execute("CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')")
    db.execute("INSERT INTO t(body) VALUES (?)", (text,))
    return [term for (term,) in db.execute("SELECT term FROM v ORDER BY offset")]


@pytest.mark.parametrize("text", SAMPLES)
def test_tokens_and_stems_match_fts5(text: str) -> None:
    terms = ChunkTerms()
    words = chunk_tokens(text)
    counts = terms.count(words)
    names = {term_id: name for name, term_id in terms.ids.items()}
    ours = sorted(names[t] for t, n in counts.items() for _ in range(n))
    assert ours == sorted(_fts5_terms(text))


def test_query_words_find_the_chunk_terms_they_stem_to() -> None:
    terms = ChunkTerms()
    terms.count(chunk_tokens("Recorded storms nightly at the lighthouse"))
    found = terms.lookup(["recording", "storm", "lighthouses", "albatross"])
    names = {term_id: name for name, term_id in terms.ids.items()}
    assert [names[t] for t in found] == ["record", "storm", "lighthous"]
