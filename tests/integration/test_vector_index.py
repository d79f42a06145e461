"""The vector index: one HNSW index per collection, document filters by over-fetch (with the
metadata-filter fallback), ANN results close to exact search."""

from __future__ import annotations

import numpy as np
import pytest

from ingest.index import OVERFETCH_MAX, VectorIndex
from ingest.settings import Settings

DIM = 32


def _index(settings: Settings) -> VectorIndex:
    return VectorIndex.from_settings(settings, embedder_name="random-test", dimension=DIM)


def _unit(rows: np.ndarray) -> np.ndarray:
    normalised: np.ndarray = rows / np.linalg.norm(rows, axis=1, keepdims=True)
    return normalised


def test_collections_are_separate_and_document_filters_are_exact_enough(settings: Settings) -> None:
    rng = np.random.default_rng(7)
    index = _index(settings)
    vectors = _unit(rng.normal(size=(7000, DIM)).astype(np.float32))
    docs = [f"doc{i // 10}" for i in range(7000)]  # 700 documents of 10 chunks
    ids = [f"c{i}" for i in range(7000)]
    index.upsert(1, ids[:6000], vectors[:6000], [{"document_id": d, "collection_id": 1} for d in docs[:6000]])
    index.upsert(2, ids[6000:], vectors[6000:], [{"document_id": d, "collection_id": 2} for d in docs[6000:]])
    assert index.count() == 7000
    query = _unit(rng.normal(size=(1, DIM)).astype(np.float32))[0]

    only_two = index.query(query, 10, collection_id=2)
    assert len(only_two) == 10 and all(int(h.chunk_id[1:]) >= 6000 for h in only_two)
    merged = index.query(query, 10)
    exact = np.argsort(-(vectors @ query))[:10]
    assert len({h.chunk_id for h in merged} & {f"c{i}" for i in exact}) >= 9

    def exact_within(wanted: set[str], collection_rows: range) -> set[str]:
        rows = [i for i in collection_rows if docs[i] in wanted]
        best = sorted(rows, key=lambda i: -float(vectors[i] @ query))[:10]
        return {f"c{i}" for i in best}

    many = {f"doc{i}" for i in range(0, 600, 3)}  # a third of collection 1: over-fetch suffices
    hits = index.query(query, 10, collection_id=1, document_ids=sorted(many))
    assert len(hits) == 10 and all(docs[int(h.chunk_id[1:])] in many for h in hits)
    assert len({h.chunk_id for h in hits} & exact_within(many, range(6000))) >= 9

    # 10 of 6,000 vectors: too rare to surface within OVERFETCH_MAX hits, so the metadata filter runs
    assert OVERFETCH_MAX < 6000
    hits = index.query(query, 10, collection_id=1, document_ids=["doc5"])
    expected = sorted(range(50, 60), key=lambda i: -float(vectors[i] @ query))
    assert [h.chunk_id for h in hits] == [f"c{i}" for i in expected]

    index.delete_document("doc5", 1)
    assert index.query(query, 10, collection_id=1, document_ids=["doc5"]) == []
    assert index.count() == 6990
    assert index.query(query, 5, collection_id=99) == []


def test_an_index_refuses_another_embedder(settings: Settings) -> None:
    from ingest.index import EmbedderMismatch

    _index(settings).upsert(1, ["a"], [[1.0] + [0.0] * (DIM - 1)], [{"document_id": "d", "collection_id": 1}])
    with pytest.raises(EmbedderMismatch):
        VectorIndex.from_settings(settings, embedder_name="another-model", dimension=DIM)


def _vectors() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    return _unit(rng.normal(size=(5000, DIM)).astype(np.float32)), _unit(rng.normal(size=(40, DIM)).astype(np.float32))


def _recall_at_100(settings: Settings, build: bool) -> tuple[int, float]:
    """(The collection's ef_search, mean ANN recall@100 against exact search) of the index
    ``settings`` name, first filled with ``_vectors`` when ``build``. Run in a fresh process: an
    index's HNSW parameters are read when a process first loads it."""
    vectors, queries = _vectors()
    index = _index(settings)
    if build:
        metas = [{"document_id": f"doc{i // 10}", "collection_id": 1} for i in range(len(vectors))]
        index.upsert(1, [f"c{i}" for i in range(len(vectors))], vectors, metas)
    recalls = [
        len({f"c{i}" for i in np.argsort(-(vectors @ q))[:100]} & {h.chunk_id for h in index.query(q, 100)}) / 100
        for q in queries
    ]
    return index._collection(1).configuration_json["hnsw"]["ef_search"], float(np.mean(recalls))


def test_an_index_made_under_another_ef_search_is_searched_with_the_configured_one(
    settings: Settings, request: pytest.FixtureRequest
) -> None:
    """An index created with an earlier ef_search (here 10) is opened with the configured one, so
    deep candidate lists (retrieval fuses the nearest 200) come back close to exact search. With a
    Chroma server the setting is stored at once and applies when the server next loads the index."""
    import multiprocessing

    spawn = multiprocessing.get_context("spawn")
    earlier = settings.model_copy(update={"hnsw_ef_search": 10})
    with spawn.Pool(1) as pool:
        ef_before, before = pool.apply(_recall_at_100, (earlier, True))
    with spawn.Pool(1) as pool:
        ef_after, after = pool.apply(_recall_at_100, (settings, False))
    assert (ef_before, ef_after) == (10, settings.hnsw_ef_search)
    assert after >= 0.99 and before < 0.98, (before, after)

    served = settings.model_copy(
        update={"chroma_url": request.getfixturevalue("chroma_server"), "chroma_collection": "ef_search_test"}
    )
    assert _recall_at_100(served.model_copy(update={"hnsw_ef_search": 10}), True)[0] == 10
    stored = _index(served)._collection(1).configuration_json["hnsw"]["ef_search"]
    assert stored == settings.hnsw_ef_search
