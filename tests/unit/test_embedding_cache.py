"""The eval's embedding cache: a rerun embeds only inputs it has not seen, and returns the same vectors."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ingest.embeddings import BatchCallback, CachedEmbedder, HashingEmbedder


class Counting(HashingEmbedder):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[int] = []

    def embed(self, texts: Sequence[str], on_batch: BatchCallback | None = None) -> list[list[float]]:
        self.calls.append(len(texts))
        return super().embed(texts, on_batch)


def test_reruns_embed_only_new_inputs_and_return_the_same_vectors(tmp_path: Path) -> None:
    cache_file = tmp_path / "cache.sqlite"
    inner = Counting()
    first = CachedEmbedder(inner, cache_file).embed(["north channel", "south quay", "ferry times"])
    again = Counting()
    cached = CachedEmbedder(again, cache_file)  # a new process: the cache is on disk
    second = cached.embed(["ferry times", "a new chunk", "north channel"])
    assert again.calls == [1] and (cached.hits, cached.misses) == (2, 1)
    np.testing.assert_allclose(second[0], first[2], atol=1e-6)
    np.testing.assert_allclose(second[2], first[0], atol=1e-6)
    np.testing.assert_allclose(second[1], HashingEmbedder().embed(["a new chunk"])[0], atol=1e-6)


def test_another_model_never_reads_this_models_vectors(tmp_path: Path) -> None:
    cache_file = tmp_path / "cache.sqlite"
    CachedEmbedder(Counting(), cache_file).embed(["north channel"])
    other = Counting()
    other.name = "another-model"
    assert CachedEmbedder(other, cache_file).embed(["north channel"]) and other.calls == [1]
