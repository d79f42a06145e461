"""Browser tests: the static UI served by the real API, driven by Playwright in Debian's chromium.

The module fixture starts `uvicorn api.app:create_app --factory` on a free port with a fresh
`DOCENT_DATA_DIR` and the extractive provider (no LLM), so answers are deterministic and offline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.fixtures.pdfgen import make_pdf
from tests.fixtures.server import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
UI_INDEX = ROOT / "frontend" / "out" / "index.html"
SCREENSHOT = ROOT / "frontend" / "test-results" / "e2e.png"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
STARTUP_TIMEOUT_S = 120
INGEST_TIMEOUT_MS = 120_000
ANSWER_TIMEOUT_MS = 60_000

AURORA_PAGES = [
    (
        "Annual report of the Northern Sky Foundation. The foundation operates three research stations "
        "in northern Norway and publishes its observing statistics every spring. This report covers the "
        "calendar year 2023 and was approved by the board in March 2024."
    ),
    (
        "The Aurora Borealis observatory in Tromso recorded 212 clear nights in 2023. "
        "Its main camera captured 4,380 auroral images during the winter season. "
        "The observatory was founded in 1928 by the physicist Leiv Harang. "
        "Visitor numbers rose to 18,500 after the new planetarium opened in October."
    ),
    (
        "Funding for 2024 comes from the Research Council and two private donors. "
        "The budget for instrument upgrades is 3.2 million kroner, most of it for a new spectrograph. "
        "Staff numbers remain at twenty-four full-time employees."
    ),
]
AURORA_QUESTION = "How many clear nights did the Aurora Borealis observatory in Tromso record in 2023?"
# Long enough that the server's follow-up heuristic uses it as is rather than prefixing the first question.
FOLLOW_UP = "Which physicist founded the observatory, and in what year?"


def _health_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _tail(path: Path, lines: int = 60) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"


@pytest.fixture(scope="module")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium to run browser tests)")
    if not UI_INDEX.exists():
        pytest.skip(f"{UI_INDEX.relative_to(ROOT)} is missing: build the UI with `cd frontend && npm run build`")

    data_dir = tmp_path_factory.mktemp("docent-e2e-data")
    log_path = data_dir.parent / "server.log"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "DOCENT_DATA_DIR": str(data_dir),
        "DOCENT_LLM_PROVIDER": "extractive",
        "PYTHONUNBUFFERED": "1",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "api.app:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + STARTUP_TIMEOUT_S
            while not _health_ok(url):
                if process.poll() is not None:
                    pytest.fail(f"server exited with {process.returncode} before it was healthy:\n{_tail(log_path)}")
                if time.monotonic() > deadline:
                    pytest.fail(f"GET /api/health did not answer 200 in {STARTUP_TIMEOUT_S} s:\n{_tail(log_path)}")
                time.sleep(0.5)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


@pytest.fixture(scope="module")
def browser(server_url: str) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def page(browser: Any, server_url: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server_url, viewport={"width": 1440, "height": 960})
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        context.close()
    assert not errors, f"uncaught errors in the page: {errors}"


def _upload_and_wait(page: Any, path: Path, expected: str = "done") -> None:
    from playwright.sync_api import expect

    page.get_by_test_id("file-input").set_input_files(str(path))
    job = page.locator("li.job", has_text=path.name).first
    expect(job.get_by_test_id("job-status")).to_contain_text(expected, timeout=INGEST_TIMEOUT_MS)


# Test-only shim, installed in the page: the extractive provider emits its whole answer within a
# few milliseconds, so the page would receive it in one read. Re-deliver the /api/chat body one SSE
# event at a time, 30 ms apart (a slow network), and record the answer's length at every DOM change.
_PACE_STREAM_AND_RECORD = r"""
() => {
  window.__answerLengths = [];
  const realFetch = window.fetch.bind(window);
  window.fetch = async (input, init) => {
    const response = await realFetch(input, init);
    const url = typeof input === "string" ? input : input instanceof Request ? input.url : String(input);
    if (!url.endsWith("/api/chat") || !response.body) return response;
    const decoder = new TextDecoder();
    const encoder = new TextEncoder();
    let buffer = "";
    const paced = response.body.pipeThrough(new TransformStream({
      async transform(chunk, controller) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let m = buffer.match(/\r?\n\r?\n/); m; m = buffer.match(/\r?\n\r?\n/)) {
          controller.enqueue(encoder.encode(buffer.slice(0, m.index + m[0].length)));
          buffer = buffer.slice(m.index + m[0].length);
          await new Promise((resolve) => setTimeout(resolve, 30));
        }
      },
      flush(controller) {
        if (buffer) controller.enqueue(encoder.encode(buffer));
      },
    }));
    return new Response(paced, { status: response.status, headers: response.headers });
  };
  const record = () => {
    const answers = document.querySelectorAll(
      '[data-testid="assistant-message"] [data-testid="assistant-text"]');
    const last = answers[answers.length - 1];
    const n = last ? last.textContent.length : 0;
    const seen = window.__answerLengths;
    if (n > 0 && seen[seen.length - 1] !== n) seen.push(n);
  };
  new MutationObserver(record).observe(
    document.body, { subtree: true, childList: true, characterData: true });
}
"""


def test_upload_ask_and_see_cited_sources(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    pdf = make_pdf(tmp_path / "aurora-annual-report.pdf", AURORA_PAGES)
    chat_bodies: list[dict[str, Any]] = []

    def on_request(request: Any) -> None:
        if request.url.endswith("/api/chat") and request.method == "POST":
            chat_bodies.append(json.loads(request.post_data or "{}"))

    page.on("request", on_request)
    page.goto("/")
    expect(page.get_by_role("heading", name="Ask your documents")).to_be_visible()

    _upload_and_wait(page, pdf)
    row = page.get_by_test_id("document-row").filter(has_text=pdf.name)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("3 pages")
    pdf_href = row.get_by_role("link", name=pdf.name).get_attribute("href") or ""
    assert pdf_href.startswith("/api/documents/") and pdf_href.endswith("/file"), pdf_href

    page.evaluate(_PACE_STREAM_AND_RECORD)
    page.get_by_test_id("chat-input").fill(AURORA_QUESTION)
    page.get_by_test_id("send-button").click()

    answer = page.get_by_test_id("assistant-message").last
    expect(answer.get_by_test_id("assistant-text")).not_to_be_empty(timeout=ANSWER_TIMEOUT_MS)
    expect(answer).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT_MS)
    expect(answer.get_by_test_id("assistant-text")).to_contain_text("212")

    lengths: list[int] = page.evaluate("window.__answerLengths")
    assert len(lengths) >= 3 and lengths == sorted(lengths), f"answer did not stream in: lengths {lengths}"

    expect(answer.get_by_text("Extractive answer (no LLM configured)")).to_be_visible()

    marker = answer.get_by_test_id("citation-marker").first
    expect(marker).to_be_visible()
    cited = answer.get_by_test_id("source-item").filter(has_text="p. 2")
    expect(cited.first).to_be_visible()
    expect(cited.first).to_contain_text(pdf.name)
    expect(cited.first.locator("mark").first).not_to_be_empty()
    expect(cited.first.get_by_role("link", name=pdf.name)).to_have_attribute("href", f"{pdf_href}#page=2")

    # Clicking a marker highlights the source it refers to.
    marker.click()
    n = marker.get_attribute("data-n")
    expect(answer.locator(f'[data-testid="source-item"][data-n="{n}"]')).to_have_class("source is-active")

    # A follow-up goes to the same conversation.
    assert chat_bodies and chat_bodies[0] == {"message": AURORA_QUESTION}, chat_bodies
    page.get_by_test_id("chat-input").fill(FOLLOW_UP)
    page.get_by_test_id("send-button").click()
    second = page.get_by_test_id("assistant-message").nth(1)
    expect(second).to_have_attribute("data-state", "done", timeout=ANSWER_TIMEOUT_MS)
    expect(second.get_by_test_id("assistant-text")).to_contain_text("1928")
    assert len(chat_bodies) == 2 and chat_bodies[1].get("conversation_id"), chat_bodies
    assert chat_bodies[1]["message"] == FOLLOW_UP

    SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOT))

    # The conversation is listed, and reopening it restores the answer with its sources.
    conversation = page.locator(".conv-open").first
    expect(conversation).to_be_visible()
    page.get_by_test_id("new-conversation").click()
    expect(page.get_by_test_id("assistant-message")).to_have_count(0)
    conversation.click()
    expect(page.get_by_test_id("assistant-message")).to_have_count(2)
    expect(page.get_by_test_id("source-item").filter(has_text="p. 2").first).to_contain_text(pdf.name)


def test_duplicate_unsupported_and_delete(page: Any, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    pdf = make_pdf(
        tmp_path / "garden-notes.pdf", ["The greenhouse holds 41 tomato plants.", "Watering happens at 6 am."]
    )
    page.goto("/")
    _upload_and_wait(page, pdf)
    row = page.get_by_test_id("document-row").filter(has_text=pdf.name)
    expect(row).to_have_count(1)

    # The same content again is reported, not re-ingested.
    page.get_by_test_id("file-input").set_input_files(str(pdf))
    expect(page.get_by_test_id("job-status").filter(has_text="already in library").first).to_be_visible(
        timeout=INGEST_TIMEOUT_MS
    )
    expect(row).to_have_count(1)

    # An unsupported file shows the server's error detail.
    junk = tmp_path / "program.exe"
    junk.write_bytes(b"MZ\x90\x00" + bytes(range(256)))
    page.get_by_test_id("file-input").set_input_files(str(junk))
    alert = page.locator("li.job-failed", has_text=junk.name).first
    expect(alert).to_be_visible(timeout=INGEST_TIMEOUT_MS)
    expect(alert.locator(".job-status")).not_to_be_empty()
    assert "Request failed" not in alert.inner_text()

    # Delete, after confirming.
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name=f"Delete {pdf.name}").click()
    expect(row).to_have_count(0)


def test_chat_errors_are_shown(page: Any) -> None:
    """An HTTP error before the stream and an `error` part inside it both reach the user."""
    from playwright.sync_api import expect

    page.goto("/")
    page.route(
        "**/api/chat",
        lambda route: route.fulfill(
            status=404,
            content_type="application/json",
            body=json.dumps({"detail": "no conversation abc", "code": "conversation_not_found"}),
        ),
    )
    page.get_by_test_id("chat-input").fill("Is anyone there?")
    page.get_by_test_id("send-button").click()
    expect(page.get_by_test_id("chat-error")).to_contain_text("no conversation abc")

    page.unroute("**/api/chat")
    stream = "".join(
        f"data: {json.dumps(part)}\n\n"
        for part in [
            {"type": "start", "messageId": "m1", "messageMetadata": {"conversationId": "c1"}},
            {"type": "text-start", "id": "t1"},
            {"type": "text-delta", "id": "t1", "delta": "Partial answer"},
            {"type": "error", "errorText": "The model provider timed out"},
        ]
    )
    page.route(
        "**/api/chat",
        lambda route: route.fulfill(
            status=200,
            headers={"content-type": "text/event-stream", "x-vercel-ai-ui-message-stream": "v1"},
            body=stream + "data: [DONE]\n\n",
        ),
    )
    page.get_by_role("button", name="Dismiss").click()
    page.get_by_test_id("chat-input").fill("Try again")
    page.get_by_test_id("send-button").click()
    expect(page.get_by_test_id("chat-error")).to_contain_text("The model provider timed out")
    expect(page.get_by_test_id("assistant-message").last).to_contain_text("Partial answer")
