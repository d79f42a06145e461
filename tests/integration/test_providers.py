"""The openai and anthropic providers, driven through their real SDKs against fake servers on
127.0.0.1 that speak each provider's streaming wire format."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from api.app import create_app
from ingest.settings import Settings
from tests.fixtures.fake_llm import FakeLLM, free_port
from tests.fixtures.pdfgen import make_pdf
from tests.integration.helpers import answer_text, chat_parts, upload

PAGES = [
    "The Nordlys Observatory in Tromso recorded 212 clear nights in 2023.",
    "The observatory budget for 2023 was 4.1 million euros.",
]
ANSWER = ["The observatory recorded ", "212 clear nights in 2023 [1]. ", "It also runs a moon base [7]."]


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    server = FakeLLM(chunks=list(ANSWER)).start()
    yield server
    server.stop()


def _settings(base: Settings, provider: str, fake: FakeLLM) -> Settings:
    url = fake.openai_base_url if provider == "openai" else fake.anthropic_base_url
    return base.model_copy(
        update={
            "llm_provider": provider,
            "llm_base_url": url,
            "llm_api_key": "test-key",
            "llm_model": f"fake-{provider}",
            "llm_max_retries": 2,
        }
    )


@pytest.fixture
def report(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "nordlys.pdf", PAGES)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_provider_streams_grounded_answer_with_citations(
    provider: str, fake: FakeLLM, make_client: Any, settings: Settings, report: Path
) -> None:
    client = make_client(_settings(settings, provider, fake))
    upload(client, report)
    parts, done, _ = chat_parts(client, {"message": "How many clear nights were recorded in 2023?"})
    assert done
    kinds = [p["type"] for p in parts]
    assert (
        kinds.index("data-sources") < kinds.index("text-delta") < kinds.index("data-citations") < kinds.index("finish")
    )
    assert answer_text(parts) == "".join(ANSWER)
    assert parts[0]["messageMetadata"]["provider"] == provider
    citations = parts[kinds.index("data-citations")]["data"]
    assert [c["n"] for c in citations] == [1]  # the invented [7] is dropped
    assert citations[0]["page"] == 1 and citations[0]["verdict"] == "supported"
    assert parts[-1]["messageMetadata"]["droppedMarkers"] == 1
    # what reached the provider: the rules, the passages as delimited data, the question
    body = fake.requests[-1]["body"]
    system = body["messages"][0]["content"] if provider == "openai" else body["system"]
    assert "only" in system and "[2]" in system
    user = body["messages"][-1]["content"]
    assert '<passage n="1" file="nordlys.pdf" page="1">' in user and user.endswith(
        "How many clear nights were recorded in 2023?"
    )
    assert body["stream"] is True and body["model"] == f"fake-{provider}"
    if provider == "anthropic":
        assert body["max_tokens"] == settings.llm_max_tokens
    conversation = client.get(f"/api/conversations/{parts[0]['messageMetadata']['conversationId']}").json()
    stored = conversation["messages"][-1]
    assert stored["status"] == "complete" and stored["usage"]["output_tokens"] == len(ANSWER)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_rate_limit_before_the_first_token_is_retried(
    provider: str, fake: FakeLLM, make_client: Any, settings: Settings, report: Path
) -> None:
    client = make_client(_settings(settings, provider, fake))
    upload(client, report)
    fake.fail_first = 1
    parts, done, _ = chat_parts(client, {"message": "How many clear nights?"})
    assert done and answer_text(parts) == "".join(ANSWER)
    assert len(fake.requests) == 2  # one 429, one success


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_failure_after_the_first_token_is_an_error_part(
    provider: str, fake: FakeLLM, make_client: Any, settings: Settings, report: Path
) -> None:
    client = make_client(_settings(settings, provider, fake))
    upload(client, report)
    fake.break_after_first_chunk = True
    parts, _, _ = chat_parts(client, {"message": "How many clear nights?"})
    kinds = [p["type"] for p in parts]
    assert "text-delta" in kinds and kinds[-1] == "error"
    assert kinds.index("text-delta") < kinds.index("error")
    assert "finish" not in kinds
    assert len(fake.requests) == 1  # nothing is retried once the stream has begun
    conversation = client.get(f"/api/conversations/{parts[0]['messageMetadata']['conversationId']}").json()
    assert conversation["messages"][-1]["status"] == "failed"


def test_closing_the_client_cancels_the_upstream_request(
    fake: FakeLLM, settings: Settings, report: Path, embedder: Any
) -> None:
    fake.chunks = [f"word{i} " for i in range(200)]
    fake.delay_s = 0.05
    port = free_port()
    app = create_app(_settings(settings, "openai", fake), embedder=embedder)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            upload(client, report)
            with client.stream("POST", "/api/chat", json={"message": "How many clear nights?"}) as response:
                for line in response.iter_lines():
                    if line.startswith("data: ") and json.loads(line[6:])["type"] == "text-delta":
                        break
                closed_at = time.monotonic()
            deadline = time.monotonic() + 5
            while not fake.disconnects and time.monotonic() < deadline:
                time.sleep(0.01)
            assert fake.disconnects, "the fake provider never saw the connection close"
            assert fake.disconnects[0] - closed_at < 1.0
            conversation_id = client.get("/api/conversations").json()["conversations"][0]["id"]
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                status = client.get(f"/api/conversations/{conversation_id}").json()["messages"][-1]["status"]
                if status != "streaming":
                    break
                time.sleep(0.05)
            assert status == "cancelled"
    finally:
        server.should_exit = True
        thread.join(10)
