"""`docent ingest` / `search` / `ask` as a user runs them (typer's runner, real stores)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app
from ingest.settings import Settings
from tests.fixtures.pdfgen import make_pdf


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return {"DOCENT_DATA_DIR": str(settings.data_dir), "DOCENT_LLM_PROVIDER": "extractive"}


def test_ingest_folder_reports_each_file_and_reruns_as_duplicates(tmp_path: Path, env: dict[str, str]) -> None:
    folder = tmp_path / "docs"
    (folder / "sub").mkdir(parents=True)
    make_pdf(folder / "minutes.pdf", ["The harbour board approved dredging the north channel to 14 metres."])
    (folder / "sub" / "notes.md").write_text("# Notes\n\nThe pilots asked for a new launch boat in spring.\n")
    (folder / "broken.pdf").write_bytes(b"%PDF-1.4 not really a pdf")
    (folder / "ignored.bin").write_bytes(b"\x00")
    runner = CliRunner()
    first = runner.invoke(app, ["ingest", str(folder), "--json"], env=env)
    assert first.exit_code == 1, first.output  # one file failed
    summary = json.loads(first.stdout)
    by_name = {Path(f["path"]).name: f for f in summary["files"]}
    assert set(by_name) == {"minutes.pdf", "notes.md", "broken.pdf"}
    assert by_name["minutes.pdf"]["status"] == "ingested" and by_name["minutes.pdf"]["pages"] == 1
    assert by_name["notes.md"]["status"] == "ingested" and by_name["notes.md"]["name"] == "sub/notes.md"
    assert by_name["broken.pdf"]["status"] == "failed" and by_name["broken.pdf"]["reason"]
    again = runner.invoke(app, ["ingest", str(folder / "minutes.pdf"), str(folder / "sub"), "--json"], env=env)
    assert again.exit_code == 0, again.output
    assert json.loads(again.stdout)["counts"] == {"ingested": 0, "duplicate": 2, "failed": 0, "cancelled": 0}

    found = runner.invoke(app, ["search", "north channel depth", "-k", "2"], env=env)
    assert found.exit_code == 0 and "minutes.pdf" in found.stdout
    answer = runner.invoke(app, ["ask", "How deep will the north channel be dredged?"], env=env)
    assert answer.exit_code == 0, answer.output
    assert "14 metres" in answer.stdout and "[1]" in answer.stdout and "minutes.pdf" in answer.stdout


def test_watch_keeps_a_folder_in_sync(tmp_path: Path, env: dict[str, str]) -> None:
    import os
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    folder = tmp_path / "watched"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.md").write_text("# A\n\nThe ferry leaves the north quay at seven.\n", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "ingest", str(folder), "--watch"],
        env={**os.environ, **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    catalog = Path(env["DOCENT_DATA_DIR"]) / "docent.db"

    def documents() -> dict[str, str]:
        if not catalog.exists():
            return {}
        with sqlite3.connect(catalog) as conn:
            try:
                return dict(conn.execute("SELECT filename, status FROM documents").fetchall())
            except sqlite3.OperationalError:  # not migrated yet
                return {}

    def wait_for(predicate: Any, what: str) -> None:
        deadline = time.monotonic() + 90
        while not predicate(documents()):
            assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
            assert time.monotonic() < deadline, f"timed out waiting for {what}: {documents()}"
            time.sleep(0.2)

    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # the initial run's report, then the watcher starts
            if line.startswith("watching"):
                break
        assert documents().get("a.md") == "ready"
        time.sleep(0.5)
        (folder / "sub" / "b.md").write_text("# B\n\nPilots board at the outer beacon.\n", encoding="utf-8")
        wait_for(lambda d: d.get("sub/b.md") == "ready", "a new file")
        (folder / "a.md").write_text("# A\n\nThe ferry now leaves the south quay at eight.\n", encoding="utf-8")
        wait_for(lambda d: "south quay" in _text_of(catalog, "a.md"), "a new version")
        assert documents() == {"a.md": "ready", "sub/b.md": "ready"}  # the old version is gone
        assert "north quay" not in _text_of(catalog, "a.md")
        (folder / "sub" / "b.md").unlink()
        wait_for(lambda d: "sub/b.md" not in d, "a deletion")
    finally:
        proc.send_signal(signal.SIGINT)
        output = proc.communicate(timeout=30)[0]
    assert proc.returncode == 0, output


def _text_of(catalog: Path, filename: str) -> str:
    import sqlite3

    with sqlite3.connect(catalog) as conn:
        rows = conn.execute(
            "SELECT c.text FROM chunks c JOIN documents d ON d.id = c.document_id WHERE d.filename = ?", (filename,)
        ).fetchall()
    return " ".join(r[0] for r in rows)


def test_the_same_file_twice_in_one_run_and_same_names_in_two_folders(tmp_path: Path, env: dict[str, str]) -> None:
    for year, words in (("2022", "dredged to 12 metres"), ("2023", "dredged to 14 metres")):
        (tmp_path / year).mkdir()
        make_pdf(tmp_path / year / "report.pdf", [f"The north channel was {words} this year."])
    (tmp_path / "copy").mkdir()
    (tmp_path / "copy" / "again.pdf").write_bytes((tmp_path / "2022" / "report.pdf").read_bytes())
    runner = CliRunner()
    result = runner.invoke(
        app,
        ["ingest", str(tmp_path / "2022" / "report.pdf"), str(tmp_path / "2023" / "report.pdf"),
         str(tmp_path / "copy"), "--json"],
        env=env,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["counts"] == {"ingested": 2, "duplicate": 1, "failed": 0, "cancelled": 0}
    names = sorted(f["name"] for f in summary["files"] if f["status"] == "ingested")
    assert len(set(names)) == 2 and all(n.endswith("report.pdf") for n in names)  # kept apart, no replacing
    found = runner.invoke(app, ["search", "how deep was the north channel dredged", "-k", "4"], env=env)
    assert "12 metres" in found.stdout and "14 metres" in found.stdout
