"""The HTTP contract (DESIGN §3) end to end: upload → jobs → documents → retrieve → chat (SSE) →
conversations → delete, with the real embedder, embedded Chroma and SQLite."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from ingest.db import build_catalog
from ingest.settings import Settings
from tests.fixtures.pdfgen import make_pdf
from tests.integration.helpers import answer_text, chat_parts, upload, wait_for_jobs

OBSERVATORY = [
    "Annual report of the Nordlys Observatory. This report covers staffing, budget and the weather.",
    "The Nordlys Observatory in Tromso recorded 212 clear nights in 2023. The main telescope has a "
    "mirror of 2.4 metres. Observing time was shared between nine universities.",
    "The observatory budget for 2023 was 4.1 million euros, of which 60 percent paid salaries.",
]


@pytest.fixture
def client(make_client: Any, settings: Settings) -> Any:
    return make_client(settings)


@pytest.fixture
def report(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "nordlys-report.pdf", OBSERVATORY)


def test_upload_list_get_and_download(client: Any, report: Path, tmp_path: Path) -> None:
    notes = tmp_path / "notes.md"
    notes.write_text("# Kiln log\n\nThe kiln reached 1280 degrees on Tuesday after a slow firing.\n", encoding="utf-8")
    jobs = upload(client, report, notes)
    assert [j["status"] for j in jobs] == ["done", "done"]
    assert jobs[0]["pages_total"] == 3 and jobs[0]["chunks"] >= 3
    docs = client.get("/api/documents").json()["documents"]
    assert {d["filename"] for d in docs} == {"nordlys-report.pdf", "notes.md"}
    doc = next(d for d in docs if d["filename"] == "nordlys-report.pdf")
    assert doc["status"] == "ready" and doc["pages"] == 3
    assert client.get(f"/api/documents/{doc['id']}").json()["sha256"] == doc["sha256"]
    original = client.get(f"/api/documents/{doc['id']}/file")
    assert original.status_code == 200 and original.content == report.read_bytes()
    assert original.headers["content-type"] == "application/pdf"


def test_same_content_under_any_name_is_one_document(client: Any, report: Path, tmp_path: Path) -> None:
    first = upload(client, report)[0]
    copy = tmp_path / "renamed.pdf"
    copy.write_bytes(report.read_bytes())
    again = upload(client, report, copy)
    assert [j["status"] for j in again] == ["duplicate", "duplicate"]
    assert {j["document_id"] for j in again} == {first["document_id"]}
    assert len(client.get("/api/documents").json()["documents"]) == 1
    health = client.get("/api/health").json()
    assert health["components"]["index"]["detail"].startswith(f"chroma, {first['chunks']} vectors")


def test_bad_input_gets_clear_errors(client: Any, tmp_path: Path) -> None:
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ\x90\x00")
    response = client.post("/api/documents", files=[("files", (exe.name, exe.read_bytes()))])
    assert response.status_code == 415
    assert response.json()["code"] == "unsupported_format" and ".pdf" in response.json()["detail"]
    broken = tmp_path / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n1 0 obj << /Type /Catalog /Pages 9 0 R >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF")
    job = upload(client, broken)[0]
    assert job["status"] == "failed" and job["error_code"] == "malformed" and job["error"]
    assert client.get("/api/health").status_code == 200
    missing = client.get("/api/documents/nope")
    assert missing.status_code == 404 and missing.json()["code"] == "document_not_found"
    bad_k = client.post("/api/retrieve", json={"query": "x", "k": 51})
    assert bad_k.status_code == 422


def test_retrieve_finds_the_page_in_every_mode(client: Any, report: Path) -> None:
    upload(client, report)
    for mode in ("hybrid", "dense", "keyword"):
        body = client.post(
            "/api/retrieve", json={"query": "How many clear nights were recorded?", "k": 3, "mode": mode}
        ).json()
        top = body["results"][0]
        assert top["page_start"] == 2, (mode, top)
        assert "212 clear nights" in top["text"]
        assert [r["rank"] for r in body["results"]] == list(range(1, len(body["results"]) + 1))
        assert body["timings_ms"]["total"] > 0
    chunks = client.get("/api/documents").json()["documents"][0]["chunks"]
    keyword_index = client.get("/api/health").json()["components"]["keyword_index"]["detail"]
    assert keyword_index.startswith(f"bm25 in memory, {chunks} chunks"), keyword_index
    unknown = client.post("/api/retrieve", json={"query": "nights", "collection": "nope"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "collection_not_found"


def test_collections_and_document_filters_scope_retrieval(client: Any, report: Path, tmp_path: Path) -> None:
    other = make_pdf(tmp_path / "other.pdf", ["The Nordlys Observatory canteen served 212 waffles a night in 2023."])
    upload(client, report, collection="astro")
    other_job = upload(client, other, collection="food")[0]
    astro = client.post("/api/retrieve", json={"query": "212 nights", "collection": "astro"}).json()["results"]
    assert astro and {r["filename"] for r in astro} == {"nordlys-report.pdf"}
    only = client.post("/api/retrieve", json={"query": "212 nights", "document_ids": [other_job["document_id"]]}).json()
    assert only["results"] and {r["filename"] for r in only["results"]} == {"other.pdf"}
    listed = client.get("/api/documents", params={"collection": "food"}).json()["documents"]
    assert [d["filename"] for d in listed] == ["other.pdf"]


def test_chat_streams_the_protocol_in_order_with_resolvable_citations(client: Any, report: Path) -> None:
    upload(client, report)
    parts, done, headers = chat_parts(client, {"message": "How many clear nights did the observatory record in 2023?"})
    assert done
    assert headers["x-vercel-ai-ui-message-stream"] == "v1"
    assert headers["cache-control"] == "no-cache, no-transform" and headers["x-accel-buffering"] == "no"
    kinds = [p["type"] for p in parts]
    deltas = [i for i, k in enumerate(kinds) if k == "text-delta"]
    assert kinds[:4] == ["start", "start-step", "data-sources", "text-start"]
    assert len(deltas) > 3 and deltas == list(range(4, 4 + len(deltas)))
    assert kinds[4 + len(deltas) :] == ["text-end", "data-citations", "finish-step", "finish"]
    assert parts[0]["messageMetadata"]["provider"] == "extractive"
    sources = {s["n"]: s for s in parts[2]["data"]}
    text = answer_text(parts)
    assert "212" in text
    markers = {int(n) for group in re.findall(r"\[(\d+(?:,\s*\d+)*)\]", text) for n in group.split(",")}
    assert markers, text
    citations = parts[kinds.index("data-citations")]["data"]
    assert {c["n"] for c in citations} == markers
    for citation in citations:
        source = sources[citation["n"]]
        assert citation["page"] == source["page_start"]
        assert source["text"][citation["span_start"] : citation["span_end"]] == citation["quote"]
        page_text = OBSERVATORY[citation["page"] - 1]  # the report's single-line pages extract verbatim
        assert page_text[citation["page_char_start"] : citation["page_char_end"]] == citation["quote"]
    assert any(c["page"] == 2 and "212 clear nights" in c["quote"] and c["verdict"] == "supported" for c in citations)


def test_chat_refuses_when_the_documents_do_not_hold_the_answer(client: Any, report: Path) -> None:
    upload(client, report)
    parts, done, _ = chat_parts(client, {"message": "What is the recipe for Peruvian ceviche?"})
    assert done
    assert "could not find" in answer_text(parts)
    assert next(p for p in parts if p["type"] == "data-citations")["data"] == []
    assert parts[-1]["messageMetadata"]["refused"] is True


def test_follow_ups_stay_in_one_conversation(client: Any, report: Path) -> None:
    upload(client, report)
    first, _, _ = chat_parts(client, {"message": "How big is the main telescope mirror of the observatory?"})
    conversation_id = first[0]["messageMetadata"]["conversationId"]
    second, _, _ = chat_parts(client, {"message": "And what was its budget?", "conversation_id": conversation_id})
    assert second[0]["messageMetadata"]["conversationId"] == conversation_id
    assert "4.1 million" in answer_text(second)
    listed = client.get("/api/conversations").json()["conversations"]
    assert [c["id"] for c in listed] == [conversation_id]
    stored = client.get(f"/api/conversations/{conversation_id}").json()
    assert [m["role"] for m in stored["messages"]] == ["user", "assistant", "user", "assistant"]
    assistant = stored["messages"][3]
    assert assistant["status"] == "complete" and assistant["provider"] == "extractive"
    assert assistant["content"] == answer_text(second) and assistant["citations"] and assistant["sources"]
    assert client.delete(f"/api/conversations/{conversation_id}").status_code == 204
    assert client.get(f"/api/conversations/{conversation_id}").status_code == 404
    unknown = client.post("/api/chat", json={"message": "hi", "conversation_id": "nope"})
    assert unknown.status_code == 404 and unknown.json()["code"] == "conversation_not_found"


def test_delete_removes_catalog_rows_vectors_and_keyword_entries(client: Any, report: Path) -> None:
    job = upload(client, report)[0]
    doc_id = job["document_id"]
    assert client.delete(f"/api/documents/{doc_id}").status_code == 204
    for mode in ("hybrid", "dense", "keyword"):
        results = client.post("/api/retrieve", json={"query": "clear nights telescope budget", "mode": mode}).json()[
            "results"
        ]
        assert results == [], mode
    assert client.get("/api/health").json()["components"]["index"]["detail"].startswith("chroma, 0 vectors")
    with client.app.state.docent.engine.connect() as conn:  # no stale keyword entries either
        stale = conn.execute(text("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH 'telescope OR nights'"))
        assert stale.scalar() == 0
    assert client.delete(f"/api/documents/{doc_id}").status_code == 404
    # the same content can come back after a delete
    assert upload(client, report)[0]["status"] == "done"


def test_job_events_stream_progress_until_the_job_ends(client: Any, report: Path) -> None:
    response = client.post("/api/documents", files=[("files", (report.name, report.read_bytes()))])
    job_id = response.json()["jobs"][0]["id"]
    events = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as stream:
        assert stream.headers["content-type"].startswith("text/event-stream")
        for line in stream.iter_lines():
            if line.startswith("data: "):
                events.append(json.loads(line[6:]))
    statuses = [e["status"] for e in events]
    assert statuses[-1] == "done" and events[-1]["pages_total"] == 3 and events[-1]["chunks"] > 0
    order = ["queued", "parsing", "chunking", "embedding", "indexing", "done"]
    assert [order.index(s) for s in statuses] == sorted(order.index(s) for s in statuses)
    assert client.get("/api/jobs/nope/events").status_code == 404


def test_a_failure_inside_the_stream_ends_it_with_an_error_part(client: Any, report: Path, monkeypatch: Any) -> None:
    upload(client, report)

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("chroma went away")

    monkeypatch.setattr(client.app.state.docent.vector_index, "query", broken)
    parts, done, _ = chat_parts(client, {"message": "How many clear nights?"})
    assert done and parts[-1]["type"] == "error" and "internal_error" in parts[-1]["errorText"]
    conversation_id = parts[0]["messageMetadata"]["conversationId"]
    stored = client.get(f"/api/conversations/{conversation_id}").json()["messages"][-1]
    assert stored["status"] == "failed"
    from fastapi.testclient import TestClient

    as_deployed = TestClient(client.app, raise_server_exceptions=False)  # same app, already started
    failed = as_deployed.post("/api/retrieve", json={"query": "nights", "mode": "dense"})
    assert failed.status_code == 500 and failed.json() == {"detail": "internal error", "code": "internal_error"}


def test_upload_limits_hold_while_reading(make_client: Any, settings: Settings, tmp_path: Path) -> None:
    client = make_client(settings.model_copy(update={"max_upload_mb": 1, "max_request_mb": 3}))
    big = tmp_path / "big.txt"
    big.write_bytes(b"word " * 300_000)  # 1.5 MB: over the per-file limit
    response = client.post("/api/documents", files=[("files", (big.name, big.read_bytes()))])
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"
    huge = tmp_path / "huge.txt"
    huge.write_bytes(b"word " * 800_000)  # 4 MB: over the request limit, refused while receiving
    response = client.post("/api/documents", files=[("files", (huge.name, huge.read_bytes()))])
    assert response.status_code == 413  # Starlette's body limit answers in plain text ("Content Too Large")
    assert client.get("/api/documents").json()["documents"] == []
    assert list((settings.uploads_dir / "incoming").glob("*")) == []


def test_html_and_docx_are_ingested_with_their_sections(client: Any, tmp_path: Path) -> None:
    import docx

    page = tmp_path / "kiln.html"
    rules = "<p>Members sign the studio book, sweep their bench and wash tools before leaving.</p>" * 12
    page.write_text(
        "<html><head><title>Studio handbook</title></head><body><nav>Menu Home About</nav><main>"
        f"<h1>Studio handbook</h1>{rules}<h2>Kilns</h2><p>The gas kiln is fired to cone 10 every second "
        "Friday and cools for two days before unloading.</p><h2>Clay</h2><p>Stoneware is recycled in the "
        "basement pug mill on Mondays.</p></main></body></html>",
        encoding="utf-8",
    )
    word = docx.Document()
    word.add_heading("Glaze recipes", level=1)
    word.add_paragraph("Celadon uses three percent red iron oxide in a clear base glaze.")
    recipes = tmp_path / "recipes.docx"
    word.save(str(recipes))
    jobs = upload(client, page, recipes)
    assert [j["status"] for j in jobs] == ["done", "done"], jobs
    top = client.post("/api/retrieve", json={"query": "When is the gas kiln fired?", "k": 1}).json()["results"][0]
    assert top["filename"] == "kiln.html" and "every second Friday" in top["text"]
    assert top["section"] == "Studio handbook > Kilns"
    assert "Menu Home" not in top["text"]
    top = client.post("/api/retrieve", json={"query": "iron oxide in celadon", "k": 1}).json()["results"][0]
    assert top["filename"] == "recipes.docx" and top["section"] == "Glaze recipes"


def test_hybrid_ranks_the_named_companys_sales_page_above_the_others_though_it_never_names_it(
    client: Any, tmp_path: Path
) -> None:
    def filing(name: str, company: str, sales: int) -> Path:
        return make_pdf(
            tmp_path / name,
            [
                f"{company} Corporation quarterly report. {company} designs and sells industrial pumps; "
                f"{company} employs 4,000 people and {company} shares trade on the exchange.",
                f"Total net sales were {sales} million dollars for the quarter, up from {sales - 31} million.",
            ],
        )

    upload(client, filing("report-a.pdf", "Acme", 512), filing("report-b.pdf", "Globex", 733))
    for company, sales in (("Acme", "512"), ("Globex", "733")):
        body = client.post(
            "/api/retrieve", json={"query": f"What were {company}'s total net sales?", "k": 4, "mode": "hybrid"}
        ).json()
        sales_pages = [r for r in body["results"] if r["page_start"] == 2]
        assert f"{sales} million" in sales_pages[0]["text"], (company, body["results"])
        assert "documents" in body["timings_ms"]


def test_the_same_file_uploaded_three_times_at_once_is_one_document(client: Any, report: Path) -> None:
    response = client.post("/api/documents", files=[("files", (report.name, report.read_bytes()))] * 3)
    assert response.status_code == 202
    ids = {j["id"] for j in response.json()["jobs"]}
    jobs = wait_for_jobs(client, list(ids))
    assert {j["document_id"] for j in jobs} == {jobs[0]["document_id"]}
    assert len(client.get("/api/documents").json()["documents"]) == 1
    chunks = next(j["chunks"] for j in jobs if j["status"] == "done")
    with client.app.state.docent.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM chunks")).scalar() == chunks
    assert client.get("/api/health").json()["components"]["index"]["detail"].startswith(f"chroma, {chunks} vectors")
    assert client.delete(f"/api/documents/{jobs[0]['document_id']}").status_code == 204
    for mode in ("hybrid", "dense", "keyword"):
        assert client.post("/api/retrieve", json={"query": "clear nights", "mode": mode}).json()["results"] == []


def test_a_new_version_of_a_file_replaces_the_old_once_indexed(client: Any, tmp_path: Path) -> None:
    (tmp_path / "v1").mkdir()
    (tmp_path / "v2").mkdir()
    old = make_pdf(tmp_path / "v1" / "budget.pdf", ["The 2023 budget was 4.1 million euros."])
    new = make_pdf(tmp_path / "v2" / "budget.pdf", ["The revised 2024 budget is 5.3 million euros."])
    first = upload(client, old)[0]
    second = upload(client, new)[0]
    assert second["status"] == "done" and second["document_id"] != first["document_id"]
    documents = client.get("/api/documents").json()["documents"]
    assert [d["id"] for d in documents] == [second["document_id"]]
    texts = [r["text"] for r in client.post("/api/retrieve", json={"query": "budget euros"}).json()["results"]]
    assert texts and all("5.3 million" in t for t in texts)
    assert (
        client.get("/api/health")
        .json()["components"]["index"]["detail"]
        .startswith(f"chroma, {second['chunks']} vectors")
    )
    # the same name in another collection is another document, not a version
    assert upload(client, old, collection="archive")[0]["status"] == "done"
    assert len(client.get("/api/documents").json()["documents"]) == 2


def test_cancel_a_queued_job_and_retry_by_uploading_again(client: Any, report: Path, tmp_path: Path) -> None:
    big = make_pdf(tmp_path / "big.pdf", [f"Page {n} of a long survey of observatory domes. " * 20 for n in range(60)])
    response = client.post(
        "/api/documents", files=[("files", (big.name, big.read_bytes())), ("files", (report.name, report.read_bytes()))]
    )
    big_job, queued = response.json()["jobs"]
    cancelled = client.post(f"/api/jobs/{queued['id']}/cancel")
    assert cancelled.status_code == 202 and cancelled.json()["status"] == "cancelled"
    running = client.post(f"/api/jobs/{big_job['id']}/cancel").json()  # stops at its next check
    ended = wait_for_jobs(client, [big_job["id"], queued["id"]])
    assert [j["status"] for j in ended] == ["cancelled", "cancelled"], (running, ended)
    assert client.post("/api/retrieve", json={"query": "observatory domes"}).json()["results"] == []
    assert client.get("/api/health").json()["components"]["index"]["detail"].startswith("chroma, 0 vectors")
    assert upload(client, report)[0]["status"] == "done"  # uploading again retries it
    assert client.post("/api/jobs/nope/cancel").status_code == 404


def test_jobs_interrupted_by_a_shutdown_resume_at_the_next_start(
    make_client: Any, settings: Settings, tmp_path: Path
) -> None:
    big = make_pdf(
        tmp_path / "survey.pdf", [f"Dome {n} of the observatory survey needs new seals. " * 25 for n in range(80)]
    )
    small = make_pdf(tmp_path / "note.pdf", ["The canteen closes at nine on Fridays."])
    client = make_client(settings)
    response = client.post(
        "/api/documents", files=[("files", (big.name, big.read_bytes())), ("files", (small.name, small.read_bytes()))]
    )
    big_id, small_id = (j["id"] for j in response.json()["jobs"])
    deadline = time.monotonic() + 60
    while client.get(f"/api/jobs/{big_id}").json()["status"] != "embedding":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    client.__exit__(None, None, None)  # shut the server down mid-embedding
    with build_catalog(settings)[1]() as session:
        statuses = dict(session.execute(text("SELECT id, status FROM ingest_jobs")).tuples().all())
    assert statuses[big_id] not in ("done", "failed", "cancelled") and statuses[small_id] != "done", statuses
    restarted = make_client(settings)
    jobs = wait_for_jobs(restarted, [big_id, small_id])
    assert [j["status"] for j in jobs] == ["done", "done"]
    assert len(restarted.get("/api/documents").json()["documents"]) == 2
    vectors = restarted.get("/api/health").json()["components"]["index"]["detail"]
    assert vectors.startswith(f"chroma, {jobs[0]['chunks'] + jobs[1]['chunks']} vectors")


def test_a_cancelled_job_stays_cancelled_across_a_restart(make_client: Any, settings: Settings, report: Path) -> None:
    client = make_client(settings)
    pages = [f"Dome {n} of the observatory survey needs new seals. " * 25 for n in range(40)]
    big = make_pdf(report.parent / "survey.pdf", pages)
    response = client.post(
        "/api/documents", files=[("files", (big.name, big.read_bytes())), ("files", (report.name, report.read_bytes()))]
    )
    big_id, small_id = (j["id"] for j in response.json()["jobs"])
    assert client.post(f"/api/jobs/{small_id}/cancel").json()["status"] == "cancelled"
    wait_for_jobs(client, [big_id])
    client.__exit__(None, None, None)
    restarted = make_client(settings)
    time.sleep(1.5)  # a worker that wrongly re-queued it would have started by now
    assert restarted.get(f"/api/jobs/{small_id}").json()["status"] == "cancelled"
    statuses = {d["filename"]: d["status"] for d in restarted.get("/api/documents").json()["documents"]}
    assert statuses == {"survey.pdf": "ready", "nordlys-report.pdf": "failed"}
