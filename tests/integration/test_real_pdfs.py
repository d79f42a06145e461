"""Real, varied and hostile PDFs from ../shared/data/pdfs (see its manifest): every readable file is
ingested with the page count the manifest gives; every unreadable one fails its own job with a
specific reason; nothing half-ingested is left behind."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import bindparam, text

from ingest.settings import Settings
from tests.conftest import shared_data
from tests.integration.helpers import upload

# Small files covering each category and every hostile kind (the whole corpus is `make bench`'s job).
READABLE = [
    "paper_attention_1706.03762.pdf",
    "latex_multicolumn_sample.pdf",
    "encrypted_emptypw_ntsb_20071229X02007.pdf",  # AES, empty password
    "encrypted_emptypw_dmca.pdf",
    "cjk_ja_kanpo_gazette.pdf",  # encrypted, Japanese
    "brokenxref_bug1795263_de.pdf",
    "derived_brokenxref_naacl06_shinyama.pdf",
    "corrupted_zen_of_python.pdf",
    "form_irs_f1040nr.pdf",
    "minutes_demolition_committee_fr.pdf",
    "table_nics_background_checks_2015-11.pdf",
]
UNREADABLE = {
    "encrypted_userpw_libreoffice.pdf": "password_required",
    "scanned_grumman_service_kit_1974.pdf": "no_text_layer",
    "scanned_rotated_table_nih_NCT06155240.pdf": "no_text_layer",
    "unparseable_by_pypdf_unreadablemetadata.pdf": "malformed",
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    data = json.loads(shared_data("pdfs", "manifest.json").read_text())
    return {f["file"]: f for f in data["files"]}


def test_real_pdfs_ingest_with_manifest_page_counts(
    make_client: Any, settings: Settings, manifest: dict[str, Any]
) -> None:
    client = make_client(settings)
    folder = shared_data("pdfs")
    paths = [folder / name for name in [*READABLE, *UNREADABLE]]
    jobs = {j["filename"]: j for j in upload(client, *paths)}
    assert client.get("/api/health").status_code == 200
    for name in READABLE:
        job = jobs[name]
        assert job["status"] == "done", (name, job["error"])
        assert job["pages_total"] == manifest[name]["pages"], name
        assert job["chunks"] > 0
    for name, code in UNREADABLE.items():
        job = jobs[name]
        assert job["status"] == "failed" and job["error_code"] == code, (name, job)
        assert job["error"]
    docs = client.get("/api/documents").json()["documents"]
    ready = {d["filename"]: d for d in docs if d["status"] == "ready"}
    assert set(ready) == set(READABLE)
    assert {d["filename"] for d in docs if d["status"] == "failed"} == set(UNREADABLE)
    failed_ids = [d["id"] for d in docs if d["status"] == "failed"]
    with client.app.state.docent.engine.connect() as conn:  # nothing half-ingested in the catalog
        left = conn.execute(
            text("SELECT count(*) FROM chunks WHERE document_id IN :ids").bindparams(bindparam("ids", expanding=True)),
            {"ids": failed_ids},
        )
        assert left.scalar() == 0
    vectors = client.get("/api/health").json()["components"]["index"]["detail"]
    assert vectors.startswith(f"chroma, {sum(d['chunks'] for d in ready.values())} vectors")

    # retrieval lands on the right page of a real paper (Vaswani et al. 2017, §3.2.2 on page 5)
    results = client.post(
        "/api/retrieve", json={"query": "how many parallel attention layers or heads are employed", "k": 3}
    ).json()["results"]
    assert results[0]["filename"] == "paper_attention_1706.03762.pdf" and results[0]["page_start"] == 5
    assert "h = 8 parallel attention layers" in results[0]["text"]


def test_password_protected_pdf_fails_with_a_clear_reason(make_client: Any, settings: Settings) -> None:
    client = make_client(settings)
    job = upload(client, Path(shared_data("pdfs", "encrypted_userpw_libreoffice.pdf")))[0]
    assert job["status"] == "failed" and "password required" in job["error"]


def _load(path: Path) -> Any:
    """What ``load_pdf`` makes of ``path``: its pages, title and empty-page count, or its error code."""
    from ingest.loaders import ParseError
    from ingest.loaders.pdf import load_pdf

    try:
        parsed = load_pdf(path)
    except ParseError as exc:
        return exc.code
    return parsed.pages, parsed.title, parsed.pages_without_text


def test_every_corpus_pdf_reads_the_same_with_pypdfs_own_content_stream_parser(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``ingest.loaders.pdf_content`` must change speed only: every page of every corpus PDF (and a
    real 10-Q) extracts to the same text, and every unreadable file fails with the same reason, as
    with pypdf's own tokenizer."""
    from pypdf.generic import ContentStream

    from ingest.loaders import pdf_content

    paths = sorted(shared_data("pdfs").glob("*.pdf"))
    paths.append(shared_data("qa", "docugami_sec10q", "docs", "2022 Q3 AAPL.pdf"))
    ours = {path.name: _load(path) for path in paths}
    assert pdf_content.installed()
    monkeypatch.setattr(ContentStream, "_parse_content_stream", pdf_content.pypdf_parser())
    for path in paths:
        assert _load(path) == ours[path.name], path.name
    assert sum(len(read[0]) for read in ours.values() if isinstance(read, tuple)) > 1000
