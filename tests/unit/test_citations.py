"""Citation markers resolve to passages and the supporting span inside them."""

from __future__ import annotations

from typing import Any

from api.chat.citations import CALIBRATED_EMBEDDER, page_location, resolve_citations, span_scores
from api.schemas import Source
from ingest.chunking import document_text
from ingest.embeddings import EmbeddingError


def _source(n: int, text: str, page: int = 1) -> Source:
    return Source(
        n=n,
        chunk_id=f"c{n}",
        document_id=f"d{n}",
        filename=f"f{n}.pdf",
        page_start=page,
        page_end=page,
        char_start=0,
        char_end=len(text),
        text=text,
        score=1.0,
    )


SOURCES = [
    _source(1, "The bridge opened in 1932. It is 1,149 metres long. Tolls were abolished in 1990.", page=4),
    _source(2, "Ferries ran until the bridge opened. The last ferry sailed on 19 March 1932.", page=7),
]


def test_single_multiple_and_adjacent_markers(embedder: Any) -> None:
    answer = "The bridge is 1,149 metres long [1]. The last ferry sailed in March 1932 [1, 2]. It opened in 1932.[1][2]"
    resolved = resolve_citations(answer, SOURCES, embedder)
    assert resolved.dropped == 0
    assert [c.n for c in resolved.citations] == [1, 1, 2, 1, 2]
    first = resolved.citations[0]
    assert first.page == 4 and first.quote == "It is 1,149 metres long."
    assert SOURCES[0].text[first.span_start : first.span_end] == first.quote
    assert first.verdict == "supported"
    ferry = resolved.citations[2]
    assert ferry.n == 2 and ferry.page == 7 and "19 March 1932" in ferry.quote and ferry.verdict == "supported"


def test_markers_without_a_passage_are_dropped_and_counted(embedder: Any) -> None:
    resolved = resolve_citations("The bridge opened in 1932 [1]. Something invented [7].", SOURCES, embedder)
    assert [c.n for c in resolved.citations] == [1]
    assert resolved.dropped == 1


def test_unsupported_claims_are_weak(embedder: Any) -> None:
    resolved = resolve_citations("The mayor owns three purple giraffes [2].", SOURCES, embedder)
    assert resolved.citations[0].verdict == "weak"


def test_no_markers_no_citations(embedder: Any) -> None:
    resolved = resolve_citations("I could not find the answer in your documents.", SOURCES, embedder)
    assert resolved.citations == [] and resolved.dropped == 0


def test_sentences_split_at_punctuation_headings_and_bullets_but_not_wrapped_lines() -> None:
    from api.chat.text import sentence_spans

    text = (
        "Multi-head attention allows the model to jointly attend to information from different representation\n"
        "subspaces at different positions. With a single head, averaging inhibits this.\n"
        "3.2.3 Applications of Attention in our Model\n"
        "The Transformer uses multi-head attention in three different ways:\n"
        "• In encoder-decoder attention layers, the queries come from the previous decoder layer."
    )
    sentences = [text[s:e] for s, e in sentence_spans(text)]
    assert sentences == [
        "Multi-head attention allows the model to jointly attend to information from different representation\n"
        "subspaces at different positions.",
        "With a single head, averaging inhibits this.",
        "3.2.3 Applications of Attention in our Model",
        "The Transformer uses multi-head attention in three different ways:",
        "• In encoder-decoder attention layers, the queries come from the previous decoder layer.",
    ]


def test_citations_locate_their_span_in_the_page_text(embedder: Any) -> None:
    pages = ["Revenue rose 4% to 12 million euros.", "Costs fell. The bridge toll was abolished in 1990. End."]
    text, spans = document_text(pages)
    passage = Source(**(_source(1, "").model_dump() | {"page_start": 1, "page_end": 2}))
    passage = passage.model_copy(update={"char_start": 10, "char_end": len(text), "text": text[10:]})
    resolved = resolve_citations("The toll was abolished in 1990 [1].", [passage], embedder, {"d1": spans})
    citation = resolved.citations[0]
    assert citation.page == 2
    assert pages[1][citation.page_char_start : citation.page_char_end] == citation.quote  # type: ignore[misc]
    assert citation.quote == "The bridge toll was abolished in 1990."
    assert page_location(passage, 0, 5, None) == (1, None, None)  # no page layout: the passage's first page


def test_a_paraphrased_claim_is_supported_by_meaning_not_only_by_words(embedder: Any) -> None:
    """The embedding half of the score: few shared words, same meaning, against an unrelated
    sentence with the same words."""
    passage = _source(1, "Road tolls on the crossing ended in 1990. The mayor bought three purple giraffes in 1990.")
    resolved = resolve_citations("The bridge stopped charging drivers in 1990 [1].", [passage], embedder)
    citation = resolved.citations[0]
    assert citation.quote == "Road tolls on the crossing ended in 1990."
    scores = span_scores([citation.claim], [passage.text], embedder)[0]
    assert scores[0].cosine > scores[1].cosine and scores[0].support() > scores[1].support()
    assert 0 <= citation.support <= 1


class _FailingEmbedder:
    """The calibrated model's name, but every call fails (an outage of a remote embedder)."""

    name = CALIBRATED_EMBEDDER
    dimension = 384

    def embed(self, texts: Any, on_batch: Any = None) -> list[list[float]]:
        raise EmbeddingError("embedding service down")

    def embed_query(self, text: str) -> list[float]:
        raise EmbeddingError("embedding service down")


def test_an_embedding_failure_falls_back_to_overlap_and_a_leading_marker_is_fine(embedder: Any) -> None:
    answer = "[1] It is 1,149 metres long [1]. The mayor owns three purple giraffes [1]."
    fallback = resolve_citations(answer, SOURCES, _FailingEmbedder())  # type: ignore[arg-type]
    assert [c.verdict for c in fallback.citations] == ["weak", "supported", "weak"]
    assert fallback.citations[1].quote == "It is 1,149 metres long."
    assert fallback.citations[0].claim == ""  # a marker before any sentence claims nothing
    with_model = resolve_citations(answer, SOURCES, embedder)
    assert [c.verdict for c in with_model.citations] == ["weak", "supported", "weak"]
    assert all(0 <= c.support <= 1 for c in with_model.citations)
