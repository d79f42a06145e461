"""The local embedder batches a document's chunks by token length, returns vectors in input order,
and lets the ingest stop between batches."""

from __future__ import annotations

import random
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ingest.settings import Settings
from tests.integration.helpers import ingest_stack

WORDS = ["harbour", "board", "pilots", "dredging", "channel", "14", "metres", "3.2", "million", "launch", "spring"]


def _texts(count: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 150))) for _ in range(count)]


def _record_widths(embedder: Any, monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """(shortest, longest) input of each batch the embedder runs from now on, in tokens."""
    widths: list[tuple[int, int]] = []
    run = embedder._run

    def recording(encodings: Any, session: Any = None) -> Any:
        lengths = [len(e.ids) for e in encodings]
        widths.append((min(lengths), max(lengths)))
        return run(encodings, session)

    monkeypatch.setattr(embedder, "_run", recording)
    return widths


def test_a_document_is_embedded_in_length_sorted_batches_in_input_order(
    embedder: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    texts = _texts(100, seed=7)
    run = embedder._run
    widths = _record_widths(embedder, monkeypatch)
    calls: list[int] = []
    vectors = np.asarray(embedder.embed(texts, calls.append))
    assert calls == [0, 32, 64, 96] and len(widths) == 4
    # sorted across the whole call: each batch starts at or above where the one before ended
    assert all(prev[1] <= cur[0] for prev, cur in pairwise(widths)), widths
    monkeypatch.setattr(embedder, "_run", run)
    alone = np.asarray([embedder.embed([t])[0] for t in texts[:10]])
    assert np.all(np.sum(vectors[:10] * alone, axis=1) > 0.99)  # row i is text i's vector


def test_the_pipeline_sorts_a_whole_documents_chunks_by_length(
    settings: Settings, embedder: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    notes = tmp_path / "harbour-notes.md"
    notes.write_text("\n\n".join(_texts(150, seed=5)), encoding="utf-8")
    pipeline, _ = ingest_stack(settings, embedder)
    widths = _record_widths(embedder, monkeypatch)
    job = pipeline.run(pipeline.register(notes, notes.name).id)
    assert job.status == "done" and job.chunks > 96, job.chunks  # more than a few batches
    assert len(widths) == -(-job.chunks // 32)
    assert all(prev[1] <= cur[0] for prev, cur in pairwise(widths)), widths


def test_an_on_batch_that_raises_stops_the_embedding(embedder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[int] = []
    run = embedder._run
    monkeypatch.setattr(embedder, "_run", lambda encodings, session=None: batches.append(1) or run(encodings, session))

    def cancel_after_one(done: int) -> None:
        if done:
            raise InterruptedError("cancelled")

    with pytest.raises(InterruptedError):
        embedder.embed(_texts(70, seed=3), cancel_after_one)
    assert batches == [1]


def test_batches_leave_a_core_to_each_running_parse(embedder: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    cores = os.cpu_count() or 1
    if cores < 2:
        pytest.skip("one core: nothing to leave to a parse")
    texts = _texts(40, seed=11)
    threads: list[int] = []
    run = embedder._run

    def recording(encodings: Any, session: Any = None) -> Any:
        threads.append(session.get_session_options().intra_op_num_threads)
        return run(encodings, session)

    monkeypatch.setattr(embedder, "_run", recording)
    alone = np.asarray(embedder.embed(texts))
    monkeypatch.setattr("ingest.embeddings.parses_running", lambda: 1)
    beside_a_parse = np.asarray(embedder.embed(texts))
    assert threads[2:] == [cores - 1, cores - 1] and all(t != cores - 1 for t in threads[:2]), threads
    np.testing.assert_allclose(beside_a_parse, alone, atol=1e-5)


def test_queries_run_an_int8_model_built_once_and_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import onnx

    from ingest.embeddings import LocalOnnxEmbedder

    first = LocalOnnxEmbedder(cache_dir=tmp_path)
    assert not any(tmp_path.iterdir())  # an ingest never builds it
    first.embed_query("How deep will the harbour channel be dredged?")
    (built,) = tmp_path.glob("query-int8-*.onnx")
    ops = {node.op_type for node in onnx.load(str(built)).graph.node}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= ops, ops
    assert first._query_session._model_path == str(built)

    def no_rebuild(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the cached query model was built again")

    monkeypatch.setattr("onnxruntime.quantization.quantize_dynamic", no_rebuild)
    second = LocalOnnxEmbedder(cache_dir=tmp_path)
    second.warm_queries()
    assert second._query_session._model_path == str(built)
    assert list(tmp_path.iterdir()) == [built]  # no temporary files left behind


def test_int8_query_vectors_rank_squad_paragraphs_as_the_float_model_does(embedder: Any) -> None:
    """Over a real corpus (SQuAD 2.0 dev, 5 articles: 173 paragraphs, 352 answerable questions),
    the int8 query vectors stay close to the float model's and find the same best paragraph."""
    import json

    from tests.conftest import shared_data

    squad = json.loads(shared_data("qa", "squad_v2", "dev-v2.0.first5articles.dev.json").read_text())
    paragraphs = [p for article in squad["data"] for p in article["paragraphs"]]
    questions = [(qa["question"], i) for i, p in enumerate(paragraphs) for qa in p["qas"] if not qa["is_impossible"]]
    passages = np.asarray(embedder.embed([p["context"] for p in paragraphs]))
    int8 = np.asarray([embedder.embed_query(q) for q, _ in questions])
    floats = np.asarray(embedder.embed([q for q, _ in questions]))  # the ingest model, float compute
    cosine = np.sum(int8 * floats, axis=1)
    assert cosine.min() > 0.97 and cosine.mean() > 0.99, (cosine.min(), cosine.mean())
    assert not np.allclose(int8, floats, atol=1e-4)  # it is the int8 model that answers queries
    best_int8, best_float = (passages @ int8.T).argmax(axis=0), (passages @ floats.T).argmax(axis=0)
    assert np.mean(best_int8 == best_float) >= 0.95
    gold = np.asarray([i for _, i in questions])
    assert np.mean(best_int8 == gold) >= np.mean(best_float == gold) - 0.01


def test_without_a_writable_cache_queries_run_the_float_model(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from ingest.embeddings import LocalOnnxEmbedder

    blocked = tmp_path / "not-a-directory"
    blocked.write_text("a file where the cache directory should be")
    embedder = LocalOnnxEmbedder(cache_dir=blocked)
    question = "How deep will the harbour channel be dredged?"
    vector = embedder.embed_query(question)
    assert "queries run the float model" in caplog.text
    np.testing.assert_allclose(vector, embedder.embed([question])[0], atol=1e-5)
