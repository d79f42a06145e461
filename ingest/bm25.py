"""BM25 over the catalog's chunks, ranked in memory: a per-process replica of the keyword index.

SQLite FTS5 scores every posting of every OR-ed query term inside the database, and the keyword
side of hybrid retrieval was the slowest stage at 100k chunks (``python -m tests.bench.scale``,
105k chunks: BM25 p50/p95 16.3/30.9 ms of an HTTP p95 of 42.5 ms). This replica holds the same
postings as numpy arrays and scores a query's terms in a few vector operations.

It ranks as FTS5's ``bm25()`` does over the chunk index (``porter unicode61 remove_diacritics 2``
over context and text, both columns weighted 1): BM25 with k1 = 1.2, b = 0.75, idf
``ln((N - df + 0.5) / (df + 0.5))`` floored at 1e-6, N and the average length over every chunk row
(SQLite's ``ext/fts5/fts5_aux.c``, ``fts5Bm25Function``). Tokens are Unicode letter and digit
runs, lower-cased, stripped of diacritics and stemmed by the original Porter algorithm, as
FTS5's tokenizer does (tests compare the terms, and the rankings on real filings; one known
difference: FTS5's Porter also strips endings after non-ASCII letters, "straße" → "straß").

The catalog stays the source of truth and the replica follows it:

- every search first reads ``max(chunks.id)`` (one index seek) and adds the rows it has not seen;
  a backlog larger than ``INLINE_SYNC_CHUNKS`` (a cold start over a big catalog) is read on a
  background thread, and until it is done ``current()`` returns ``None`` so the caller can use
  the catalog's own full-text index;
- at most every ``RECONCILE_S`` seconds the chunk count is compared with the replica's; on a
  difference (deleted documents, rows committed out of id order), and at least every
  ``FULL_RECONCILE_S`` seconds in any case, the id sets are diffed on a background thread: missing
  rows are added, deleted ones marked dead. The diff reads every chunk id (55-100 ms at 105k
  chunks, measured on FinanceBench plus a copy), which a search that happened to fall due paid
  while it ran inline: someone asking a question every few minutes paid it every time;
- until a diff is done a deleted chunk can still be ranked, and callers place hits through the
  catalog (which drops it), exactly as they drop chunks of documents that are not ready.

Each API worker holds its own replica of the one catalog, so workers rank alike. Memory: 8 bytes
per posting and 68 postings per chunk (16k FinanceBench chunks held 1.09M), so about 57 MB of
postings at 105k chunks, plus the chunk ids (8.9 MB at 105k, strings and array: searches answer
in chunk ids, which retrieval places through the catalog only for the candidates it keeps) and
the word and stem dictionaries; loading 105k chunks took 10-12 s (``keyword_index_load_s`` of
``python -m tests.bench.scale``).
"""

from __future__ import annotations

import logging
import math
import re
import threading
import time
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, lru_cache
from typing import Any

import numpy as np
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from ingest.db import in_values

__all__ = ["ChunkBM25", "ChunkTerms", "chunk_tokens", "query_stems"]

logger = logging.getLogger(__name__)

#: FTS5's ``bm25()`` constants (``fts5_aux.c``).
K1 = 1.2
B = 0.75
#: New chunk rows read on the searching thread; a larger backlog is read on a background thread.
#: 105k chunks loaded in 10-12 s (``python -m tests.bench.scale``), so 2,000 take about 0.2 s; a
#: FinanceBench filing has 712 chunks on average (52,696 over 74).
INLINE_SYNC_CHUNKS = 2_000
#: Seconds between chunk-count checks for deletions and out-of-order commits, and the longest
#: between comparisons of the id sets (a deletion and a late commit in one interval leave the count
#: equal).
RECONCILE_S = 2.0
FULL_RECONCILE_S = 60.0
#: FTS5's porter tokenizer leaves longer tokens unstemmed (``FTS5_PORTER_MAX_TOKEN``).
PORTER_MAX_BYTES = 64
#: Rows read per round trip when loading chunks.
FETCH_ROWS = 5_000

_TOKEN = re.compile(r"[^\W_]+")


@lru_cache(maxsize=1)
def _stem_words() -> Any:
    import snowballstemmer  # PyStemmer's C stemmer when installed

    return snowballstemmer.stemmer("porter").stemWords


def _fold(word: str) -> str:
    """``word`` with its Latin letters' diacritics removed (unicode61's ``remove_diacritics``,
    which leaves other scripts alone)."""
    if word.isascii():
        return word
    return "".join(
        "".join(c for c in unicodedata.normalize("NFD", ch) if not unicodedata.combining(c))
        if "LATIN" in unicodedata.name(ch, "")
        else ch
        for ch in word
    )


def _stems(words: list[str]) -> list[str]:
    """Porter stems of ``words``; as FTS5's porter tokenizer, words under 3 or over 64 bytes are
    kept whole."""
    return [
        stem if 3 <= len(word.encode()) <= PORTER_MAX_BYTES else word
        for word, stem in zip(words, _stem_words()(words), strict=True)
    ]


def query_stems(words: Iterable[str]) -> dict[str, str]:
    """The stem each query word is indexed under (folded and stemmed as FTS5's tokenizer does:
    "café" as "cafe", "s" whole) → the first of ``words`` with that stem, in order: the terms a
    query scores, each once ("storms" and "storm" are one)."""
    given = list(words)
    first: dict[str, str] = {}
    for word, stem in zip(given, _stems([_fold(w) for w in given]), strict=True):
        first.setdefault(stem, word)
    return first


def chunk_tokens(text_: str) -> list[str]:
    """Lower-cased letter and digit runs of ``text_`` without diacritics, unstemmed."""
    words: list[str] = _TOKEN.findall(text_.lower())
    return words if text_.isascii() else [_fold(w) for w in words]


class ChunkTerms:
    """Maps words to term ids (Porter stems), caching each word's stem. Append-only: ids never
    change, so readers on other threads may look terms up while a writer adds some."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self._words: dict[str, int] = {}

    def count(self, words: Sequence[str]) -> Counter[int]:
        """Term frequencies of a chunk's tokens (words of ``chunk_tokens``), by term id."""
        unseen = set(words).difference(self._words)
        if unseen:
            new = list(unseen)
            for word, stem in zip(new, _stems(new), strict=True):
                self._words[word] = self.ids.setdefault(stem, len(self.ids))
        return Counter(map(self._words.__getitem__, words))

    def lookup(self, words: Iterable[str]) -> list[int]:
        """Term ids of query ``words`` (unique, in order); words never indexed are left out."""
        return [term for stem in query_stems(words) if (term := self.ids.get(stem)) is not None]


@dataclass(frozen=True)
class _Segment:
    """Postings sorted by term: ``terms[i]`` occurs ``tf[i]`` times in chunk position ``pos[i]``."""

    terms: np.ndarray  # int32, sorted
    pos: np.ndarray  # int32
    tf: np.ndarray  # float32

    @property
    def size(self) -> int:
        return int(self.terms.size)

    def bounds(self, term: int) -> tuple[int, int]:
        """Where ``term``'s postings lie (keys of the array's own dtype: a Python int would make
        numpy convert the whole array on every search)."""
        lo, hi = np.searchsorted(self.terms, np.array((term, term + 1), np.int32))
        return int(lo), int(hi)

    def postings(self, term: int) -> tuple[np.ndarray, np.ndarray]:
        lo, hi = self.bounds(term)
        return self.pos[lo:hi], self.tf[lo:hi]

    @staticmethod
    def merge(segments: Sequence[_Segment]) -> _Segment:
        terms = np.concatenate([s.terms for s in segments])
        order = np.argsort(terms, kind="stable")  # positions stay ascending within a term
        return _Segment(
            terms[order],
            np.concatenate([s.pos for s in segments])[order],
            np.concatenate([s.tf for s in segments])[order],
        )


@dataclass(frozen=True)
class _State:
    """One immutable snapshot of the replica: searches read it without locks; syncs build the next."""

    newest: int  # the highest chunk id read
    rowid: np.ndarray  # int64 [n]: chunks.id per position
    chunk_id: np.ndarray  # object [n]: chunks.chunk_id per position
    collection: np.ndarray  # int32 [n]
    document: np.ndarray  # int32 [n]: the document's index in ChunkBM25._document_index
    length: np.ndarray  # float32 [n]: tokens
    alive: np.ndarray  # bool [n]: False once the row is known deleted
    segments: tuple[_Segment, ...]
    checked: float = field(default=0.0)  # time.monotonic() of the last count check
    diffed: float = field(default=0.0)  # time.monotonic() of the last id-set comparison

    @cached_property
    def rows(self) -> int:
        """Live rows: BM25's N."""
        return int(self.alive.sum())

    @cached_property
    def average_length(self) -> float:
        """Mean tokens per live row: BM25's avgdl."""
        return float(self.length[self.alive].sum()) / max(self.rows, 1) or 1.0


def _empty() -> _State:
    return _State(
        newest=0,
        rowid=np.zeros(0, np.int64),
        chunk_id=np.zeros(0, object),
        collection=np.zeros(0, np.int32),
        document=np.zeros(0, np.int32),
        length=np.zeros(0, np.float32),
        alive=np.zeros(0, bool),
        segments=(),
    )


class ChunkBM25:
    """The in-memory BM25 replica of one catalog's chunk index. Thread-safe.

    ``current(session)`` brings it up to date and returns a snapshot to ``search``, or ``None``
    while a large backlog is still being read (the caller then ranks in the catalog).
    """

    def __init__(self) -> None:
        self.terms = ChunkTerms()
        self._document_index: dict[str, int] = {}  # document id -> the index stored per position
        self._state: _State | None = None
        self._lock = threading.Lock()  # one sync at a time
        self._loading: threading.Thread | None = None
        self._diffing: threading.Thread | None = None  # the id-set diff (``_diff_in_background``)

    # -- keeping in step with the catalog ---------------------------------------------------

    def current(self, session: Session) -> _State | None:
        """The replica as of the catalog now (``session``'s view), or ``None`` while it is loading."""
        newest = int(session.execute(text("SELECT max(id) FROM chunks")).scalar_one() or 0)
        state = self._state
        if state is not None and state.newest >= newest and time.monotonic() - state.checked < RECONCILE_S:
            return state
        if self._loading is not None:
            return None
        backlog = newest - (state.newest if state is not None else 0)
        if backlog > INLINE_SYNC_CHUNKS:
            self.load_in_background(session.get_bind().engine)
            return None
        with self._lock:
            self._sync(session, newest)
            return self._state

    def warm(self, engine: Engine) -> None:
        """Read the whole backlog now, on this thread (``docent eval``, benchmarks)."""
        with Session(engine) as session:
            newest = int(session.execute(text("SELECT max(id) FROM chunks")).scalar_one() or 0)
            with self._lock:
                self._sync(session, newest)

    @property
    def rows(self) -> int:
        """Live chunks in the replica."""
        return self._state.rows if self._state is not None else 0

    @property
    def ready(self) -> bool:
        """Whether searches are served from memory (False before the first load ends)."""
        return self._state is not None and self._loading is None

    def load_in_background(self, engine: Engine) -> None:
        """Start reading the catalog on a background thread (the API's start-up) unless loading."""

        def load() -> None:
            started = time.perf_counter()
            try:
                self.warm(engine)
                logger.info(
                    "keyword index loaded in memory: %d chunks in %.1f s",
                    self._state.rows if self._state else 0,
                    time.perf_counter() - started,
                )
            except Exception:  # logged; searches keep using the catalog's full-text index
                logger.exception("loading the in-memory keyword index failed")
            finally:
                self._loading = None

        with self._lock:
            if self._loading is None:
                self._loading = threading.Thread(target=load, name="docent-bm25-load", daemon=True)
                self._loading.start()

    def _sync(self, session: Session, newest: int) -> None:
        """Add rows up to ``newest``; check the count when due, and start a diff of the id sets when
        it differs or a full comparison is due. Caller holds ``_lock``."""
        first = self._state is None
        state = self._state or _empty()
        if newest > state.newest:
            rows = self._fetch(session, "c.id > :after AND c.id <= :newest", {"after": state.newest, "newest": newest})
            state = self._append(state, rows, newest)
        now = time.monotonic()
        if first:  # a load from nothing is a whole comparison of its own
            state = replace(state, checked=now, diffed=now)
        elif now - state.checked >= RECONCILE_S:
            count = int(session.execute(text("SELECT count(*) FROM chunks")).scalar_one())
            if (count != state.rows or now - state.diffed >= FULL_RECONCILE_S) and self._diffing is None:
                self._diffing = threading.Thread(
                    target=self._diff_in_background,
                    args=(session.get_bind().engine, state.rowid.size),
                    name="docent-bm25-diff",
                    daemon=True,
                )
                try:
                    self._diffing.start()
                except RuntimeError:  # no thread to be had: the next due check tries again
                    self._diffing = None
                    raise
                state = replace(state, diffed=now)
            state = replace(state, checked=now)
        self._state = state

    @staticmethod
    def _fetch(session: Session, where: str, params: dict[str, Any]) -> list[Any]:
        columns = "c.id, c.chunk_id, c.collection_id, c.document_id, c.context, c.text"
        result = session.execute(text(f"SELECT {columns} FROM chunks c WHERE {where} ORDER BY c.id"), params)
        rows: list[Any] = []
        while batch := result.fetchmany(FETCH_ROWS):
            rows.extend(batch)
        return rows

    def _append(self, state: _State, rows: Sequence[Any], newest: int) -> _State:
        if not rows:
            return replace(state, newest=max(state.newest, newest))
        base = state.rowid.size
        rowid = np.empty(len(rows), np.int64)
        chunk_id = np.empty(len(rows), object)
        collection = np.empty(len(rows), np.int32)
        document = np.empty(len(rows), np.int32)
        length = np.empty(len(rows), np.float32)
        terms: list[int] = []
        tfs: list[int] = []
        pos: list[int] = []
        for i, (row_id, chunk, collection_id, document_id, context, body) in enumerate(rows):
            words = chunk_tokens(f"{context} {body}")
            counts = self.terms.count(words)
            rowid[i], chunk_id[i], collection[i], length[i] = row_id, chunk, collection_id, len(words)
            document[i] = self._document(document_id)
            terms.extend(counts)
            tfs.extend(counts.values())
            pos.extend([base + i] * len(counts))
        added = _Segment.merge(
            [_Segment(np.asarray(terms, np.int32), np.asarray(pos, np.int32), np.asarray(tfs, np.float32))]
        )
        return replace(
            state,
            newest=max(state.newest, newest, int(rowid.max())),
            rowid=np.concatenate([state.rowid, rowid]),
            chunk_id=np.concatenate([state.chunk_id, chunk_id]),
            collection=np.concatenate([state.collection, collection]),
            document=np.concatenate([state.document, document]),
            length=np.concatenate([state.length, length]),
            alive=np.concatenate([state.alive, np.ones(len(rows), bool)]),
            segments=_compact((*state.segments, added)),
        )

    def _document(self, document_id: str) -> int:
        return self._document_index.setdefault(document_id, len(self._document_index))

    def _diff_in_background(self, engine: Engine, known: int) -> None:
        """Diff the catalog's chunk ids with the replica's (on the ``_diffing`` thread): rows among
        the replica's first ``known`` positions that the catalog no longer holds are marked dead,
        and catalog rows the replica lacks are added. Rows the replica read after this diff was
        started may be newer than the ids read here, so they are left alone. Ids are never reused
        (migration 0006), so a row once gone stays gone; one that comes back is added anew."""
        try:
            with Session(engine) as session:
                present = np.fromiter(
                    (row[0] for row in session.execute(text("SELECT id FROM chunks"))), dtype=np.int64
                )
                with self._lock:
                    state = self._state or _empty()
                    alive = state.alive.copy()
                    alive[:known] &= np.isin(state.rowid[:known], present)
                    missing = np.setdiff1d(present, state.rowid[alive], assume_unique=True)
                    state = replace(state, alive=alive, diffed=time.monotonic())
                    rows: list[Any] = []
                    for begin in range(0, missing.size, FETCH_ROWS):
                        rows.extend(
                            self._fetch(
                                session, *in_values(session, "c.id", missing[begin : begin + FETCH_ROWS].tolist())
                            )
                        )
                    self._state = self._append(state, rows, state.newest)
        except Exception:  # logged; the next count check that differs starts another, or the next full one
            logger.exception("comparing the keyword index with the catalog failed")
        finally:
            self._diffing = None

    # -- ranking ------------------------------------------------------------------------------

    def search(
        self,
        state: _State,
        terms: Sequence[int],
        k: int,
        *,
        collection_id: int | None = None,
        document_ids: Sequence[str] | None = None,
    ) -> list[tuple[str, float]]:
        """The ``k`` best ``(chunk id, BM25)`` for chunks holding any of ``terms`` (term ids),
        best first, within the collection and documents given. Deleted rows the replica has not
        noticed yet can appear; callers place hits through the catalog."""
        if not terms or k <= 0:
            return []
        allowed: np.ndarray | None = None
        if document_ids:  # an empty list filters nothing, as in the catalog's search
            allowed = np.array([self._document_index[d] for d in document_ids if d in self._document_index], np.int32)
            if not allowed.size:
                return []
        n, avg = max(state.rows, 1), state.average_length
        positions: list[np.ndarray] = []
        weights: list[np.ndarray] = []
        for term in terms:
            pos, tf = self._postings(state, term)
            if not pos.size:
                continue
            idf = max(math.log((n - pos.size + 0.5) / (pos.size + 0.5)), 1e-6)
            keep = np.ones(pos.size, bool)
            if collection_id is not None:
                keep &= state.collection[pos] == collection_id
            if allowed is not None:
                keep &= np.isin(state.document[pos], allowed)
            pos, tf = pos[keep], tf[keep]
            norm = tf + K1 * (1 - B + B * state.length[pos] / avg)
            positions.append(pos)
            weights.append(idf * tf * (K1 + 1) / norm)
        if not positions:
            return []
        unique, inverse = np.unique(np.concatenate(positions), return_inverse=True)
        scores = np.bincount(inverse, weights=np.concatenate(weights))
        wanted = k
        while True:
            top = np.argpartition(-scores, wanted - 1)[:wanted] if scores.size > wanted else np.arange(scores.size)
            top = top[np.lexsort((unique[top], -scores[top]))]  # best first; ties by position
            # A chunk row replaced under the same chunk id (a re-indexed document, before the next
            # diff) ranks once, at its best, and the next chunk takes the place it left.
            best: dict[str, float] = {}
            for chunk_id, score in zip(state.chunk_id[unique[top]].tolist(), scores[top].tolist(), strict=True):
                best.setdefault(chunk_id, score)
            if len(best) >= k or top.size == scores.size:
                return list(best.items())[:k]
            wanted += k - len(best)

    @staticmethod
    def document_frequency(state: _State, term: int) -> int:
        """Chunks holding ``term`` (rows deleted since the last reconciliation included)."""
        return sum(hi - lo for lo, hi in (segment.bounds(term) for segment in state.segments))

    @staticmethod
    def _postings(state: _State, term: int) -> tuple[np.ndarray, np.ndarray]:
        """Every live posting of ``term``: chunk positions and term frequencies."""
        parts = [segment.postings(term) for segment in state.segments]
        if not parts:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        pos = np.concatenate([p for p, _ in parts]) if len(parts) > 1 else parts[0][0]
        tf = np.concatenate([t for _, t in parts]) if len(parts) > 1 else parts[0][1]
        if pos.size and not state.alive[pos].all():
            keep = state.alive[pos]
            pos, tf = pos[keep], tf[keep]
        return pos, tf


def _compact(segments: tuple[_Segment, ...]) -> tuple[_Segment, ...]:
    """Merge the newest segments while the last is at least half the one before (a log-structured
    merge): O(log n) segments, each posting re-sorted O(log n) times over the replica's life."""
    merged = list(segments)
    while len(merged) > 1 and merged[-1].size * 2 >= merged[-2].size:
        last = merged.pop()
        merged[-1] = _Segment.merge([merged[-1], last])
    return tuple(merged)
