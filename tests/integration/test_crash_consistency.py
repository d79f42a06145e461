"""Exactly-once ingestion: `docent ingest` SIGKILLed at seeded random points and at the worst
moments (vectors written, catalog not committed; inside the catalog transaction), and stopped by
Ctrl-C, then rerun to the end, holds exactly the chunk set of a clean run in every store, and
`docent doctor` agrees."""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import text

from ingest.db import build_catalog
from ingest.embeddings import build_embedder
from ingest.index import VectorIndex
from ingest.settings import Settings
from tests.fixtures.pdfgen import make_pdf

SEED = 20261121
RANDOM_KILLS = 10
WORDS = [
    "harbour",
    "channel",
    "dredging",
    "pilots",
    "tide",
    "beacon",
    "ferry",
    "quay",
    "ballast",
    "hull",
    "rudder",
    "mooring",
]


def _corpus(folder: Path) -> Path:
    """Eight files, 2-14 pages each, every page distinct, so every kill point lands mid-work."""
    rng = random.Random(SEED)
    folder.mkdir()
    for n in range(7):
        pages = [
            f"Report {n} page {p}. " + " ".join(rng.choice(WORDS) for _ in range(rng.randint(60, 160)))
            for p in range(rng.randint(2, 14))
        ]
        make_pdf(folder / f"report-{n}.pdf", pages)
    (folder / "log.md").write_text("# Log\n\n" + " ".join(rng.choice(WORDS) for _ in range(900)), encoding="utf-8")
    return folder


def _env(data_dir: Path) -> dict[str, str]:
    return {**os.environ, "DOCENT_DATA_DIR": str(data_dir), "DOCENT_LLM_PROVIDER": "extractive"}


def _ingest(data_dir: Path, folder: Path, *, patch: str = "") -> subprocess.Popen[bytes]:
    """`docent ingest FOLDER --json` in a child process; ``patch`` runs first (a fault to inject)."""
    script = f"{patch}\nfrom api.cli import app\napp(['ingest', {str(folder)!r}, '--json'])"
    return subprocess.Popen(
        [sys.executable, "-c", script], env=_env(data_dir), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )


def _ready(data_dir: Path) -> int:
    """Ready documents in ``data_dir``'s catalog, read while an ingest may be writing it."""
    with closing(sqlite3.connect(data_dir / "docent.db", timeout=30)) as db:
        return int(db.execute("SELECT count(*) FROM documents WHERE status = 'ready'").fetchone()[0])


def _state(data_dir: Path) -> dict[str, Any]:
    """Every store's view: catalog chunk ids and texts, keyword index rows, vector ids."""
    settings = Settings(data_dir=data_dir, chroma_url=None, database_url=None)
    engine, factory = build_catalog(settings)
    with factory() as session:
        chunks = dict(session.execute(text("SELECT chunk_id, text FROM chunks")).tuples().all())
        fts = session.execute(text("SELECT count(*) FROM chunks_fts")).scalar_one()
        # half a document anywhere in the catalog: a ready one missing rows, or rows of one not ready
        partial = session.execute(
            text(
                "SELECT count(*) FROM documents d WHERE (d.status = 'ready') != "
                "((SELECT count(*) FROM chunks c WHERE c.document_id = d.id) = d.chunk_count AND d.chunk_count > 0)"
            )
        ).scalar_one()
        ready = session.execute(text("SELECT count(*) FROM documents WHERE status = 'ready'")).scalar_one()
    engine.dispose()
    embedder = build_embedder(settings)
    index = VectorIndex.from_settings(settings, embedder_name=embedder.name, dimension=embedder.dimension)
    vectors: set[str] = set()
    for collection_id in index.collection_ids():
        vectors |= index.ids(collection_id)
    return {"chunks": chunks, "fts": fts, "vectors": vectors, "partial": partial, "ready": ready}


KILL_AFTER_VECTORS = """
import os, signal
from ingest.index import VectorIndex
_upsert = VectorIndex.upsert
def _upsert_then_die(self, *args, **kwargs):
    _upsert(self, *args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)  # vectors written, catalog transaction not begun
VectorIndex.upsert = _upsert_then_die
"""

KILL_INSIDE_CATALOG_TRANSACTION = """
import os, signal
from ingest.index import DocumentKeywordIndex
def _die(*args, **kwargs):
    os.kill(os.getpid(), signal.SIGKILL)  # inside the catalog transaction: old rows deleted, nothing committed
DocumentKeywordIndex.write = staticmethod(_die)
"""


def test_sigkill_anywhere_then_rerun_equals_a_clean_run(tmp_path: Path) -> None:
    folder = _corpus(tmp_path / "docs")
    clean_dir = tmp_path / "clean"
    started = time.monotonic()
    clean = _ingest(clean_dir, folder)
    out, _ = clean.communicate(timeout=300)
    clean_s = time.monotonic() - started
    assert clean.returncode == 0, out
    assert json.loads(out)["counts"]["ingested"] == 8
    reference = _state(clean_dir)
    assert reference["partial"] == 0 and reference["ready"] == 8 and reference["fts"] == len(reference["chunks"]) > 50
    assert reference["vectors"] == set(reference["chunks"])

    def finish_and_compare(data_dir: Path) -> None:
        final = _ingest(data_dir, folder)
        out, _ = final.communicate(timeout=300)
        assert final.returncode == 0, out
        after = _state(data_dir)
        assert after["chunks"] == reference["chunks"]  # same ids, same texts: nothing lost, nothing twice
        assert after["vectors"] == set(reference["chunks"])  # no orphan, no missing vector
        assert after["fts"] == len(reference["chunks"]) and after["partial"] == 0

    crashed_dir = tmp_path / "crashed-0"
    for patch in (KILL_AFTER_VECTORS, KILL_INSIDE_CATALOG_TRANSACTION):
        proc = _ingest(crashed_dir, folder, patch=patch)
        proc.wait(timeout=300)
        assert proc.returncode == -signal.SIGKILL
    # Ctrl-C mid-run (once a document more is ready): the CLI stops cleanly, says so, exits 130
    before = _ready(crashed_dir)
    proc = _ingest(crashed_dir, folder)
    deadline = time.monotonic() + 300
    while _ready(crashed_dir) == before and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=60)
    assert proc.returncode in (130, 0)  # 0 only if it had already finished
    state = _state(crashed_dir)
    assert state["partial"] == 0 and state["fts"] == len(state["chunks"])
    rng = random.Random(SEED)
    kills = attempts = 0
    while kills < RANDOM_KILLS and attempts < 3 * RANDOM_KILLS:
        attempts += 1
        proc = _ingest(crashed_dir, folder)
        time.sleep(rng.uniform(0.5, clean_s))
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        else:  # the resumed run finished before its kill point: check it, start afresh
            assert proc.returncode == 0
            finish_and_compare(crashed_dir)
            crashed_dir = tmp_path / f"crashed-{attempts}"
        proc.wait(timeout=60)
        if crashed_dir.exists():
            state = _state(crashed_dir)
            assert state["partial"] == 0  # at every kill point: each document whole or absent in the catalog
            assert state["fts"] == len(state["chunks"])  # the keyword index moves with the rows
    assert kills == RANDOM_KILLS, f"only {kills} of {attempts} runs were killed mid-work"
    finish_and_compare(crashed_dir)
    doctor = subprocess.run(
        [sys.executable, "-m", "api.cli", "doctor", "--json"], env=_env(crashed_dir), capture_output=True, timeout=120
    )
    report = json.loads(doctor.stdout)
    assert doctor.returncode == 0 and report["healthy"] and report["orphan_vectors"] == 0
