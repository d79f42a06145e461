"""`docent ingest` / `search` / `ask` as a user runs them (typer's runner, real stores)."""

from __future__ import annotations

import json
from pathlib import Path

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
