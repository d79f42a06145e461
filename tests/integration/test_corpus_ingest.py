"""All 44 real PDFs of ../shared/data/pdfs in one `docent ingest` run through a running `docent
serve`: every readable file ingested with the page count its manifest gives, every unreadable one
failed with its specific reason, the server's health 200 throughout, no partial document."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.conftest import shared_data
from tests.fixtures.server import docent_server

pytestmark = pytest.mark.shared_data

#: What must fail, and how. Every other file of the corpus has a text layer pypdf reads (the
#: manifest's ``text_extractable`` is false for two of them only because they hold under 20
#: characters: "Reduced test-case" and one Arabic line, which are real text and are ingested).
UNREADABLE = {
    "encrypted_userpw_libreoffice.pdf": "password_required",
    "unparseable_by_pypdf_unreadablemetadata.pdf": "malformed",
    "scanned_grumman_service_kit_1974.pdf": "no_text_layer",
    "scanned_rotated_table_nih_NCT06155240.pdf": "no_text_layer",
}


def test_the_whole_corpus_in_one_ingest_through_a_live_server(tmp_path: Path) -> None:
    folder = shared_data("pdfs")
    manifest = {f["file"]: f for f in json.loads((folder / "manifest.json").read_text())["files"]}
    data_dir = tmp_path / "data"
    health_failures: list[str] = []
    checks = 0
    stop = threading.Event()

    def watch_health(url: str) -> None:
        nonlocal checks
        with httpx.Client(base_url=url, timeout=5) as client:
            while not stop.is_set():
                try:
                    status = client.get("/api/health").status_code
                    if status != 200:
                        health_failures.append(f"HTTP {status}")
                except httpx.HTTPError as exc:
                    health_failures.append(repr(exc))
                checks += 1
                stop.wait(0.25)

    with docent_server(data_dir) as server:
        watcher = threading.Thread(target=watch_health, args=(server.url,), daemon=True)
        watcher.start()
        try:
            run = subprocess.run(
                [sys.executable, "-m", "api.cli", "ingest", str(folder), "--server", server.url, "--json"],
                env={**os.environ, "DOCENT_DATA_DIR": str(data_dir)},
                capture_output=True,
                timeout=1800,
            )
        finally:
            stop.set()
            watcher.join(10)
        assert server.process.poll() is None, "the server died during the ingest"

    assert run.returncode == 1, run.stderr[-2000:]  # some files failed, as they must
    results = {r["name"]: r for r in json.loads(run.stdout)["files"]}
    assert set(results) == set(manifest)  # 44 files, each reported
    for name, entry in manifest.items():
        result = results[name]
        if name in UNREADABLE:
            assert result["status"] == "failed" and result["code"] == UNREADABLE[name], (name, result)
            assert result["reason"]
        else:
            assert result["status"] == "ingested", (name, result)
            assert result["pages"] == entry["pages"], (name, result["pages"], entry["pages"])
    assert checks > 10 and health_failures == [], health_failures[:5]

    catalog = sqlite3.connect(data_dir / "docent.db")
    partial = catalog.execute(
        "SELECT count(*) FROM documents d WHERE (d.status = 'ready') != "
        "((SELECT count(*) FROM chunks c WHERE c.document_id = d.id) = d.chunk_count AND d.chunk_count > 0)"
    ).fetchone()[0]
    catalog.close()
    assert partial == 0  # each document whole (ready with all its chunk rows) or without any row
