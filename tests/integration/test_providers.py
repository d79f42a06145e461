"""The openai and anthropic providers, driven through their real SDKs against fake servers on
127.0.0.1 that speak each provider's streaming wire format."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from api.app import create_app
from ingest.settings import Settings
from tests.fixtures.fake_llm import FakeLLM
from tests.fixtures.pdfgen import make_pdf
from tests.fixtures.server import ThreadedServer
from tests.integration.helpers import answer_text, chat_parts, upload

PAGES = [
    "The Nordlys Observatory in Tromso recorded 212 clear nights in 2023.",
    "The observatory budget for 2023 was 4.1 million euros.",
]
ANSWER = ["The observatory recorded ", "212 clear nights in 2023 [1]. ", "It also runs a moon base [7]."]


@pytest.fixture
def fake() -> Iterator[FakeLLM]:
    with FakeLLM(chunks=list(ANSWER)) as server:
        yield server


@pytest.fixture
def report(tmp_path: Path) -> Path:
    return make_pdf(tmp_path / "nordlys.pdf", PAGES)


@pytest.fixture
def llm_client(fake: FakeLLM, make_client: Any, settings: Settings, report: Path) -> Callable[..., Any]:
    """Factory: ``llm_client(provider, **settings)`` → a client of an app whose provider talks to
    the fake, with the report ingested."""

    def build(provider: str, **overrides: Any) -> Any:
        client = make_client(fake.configure(settings, provider).model_copy(update=overrides))
        upload(client, report)
        return client

    return build


def _stored_answer(client: Any, parts: list[dict[str, Any]]) -> dict[str, Any]:
    """The stored assistant message of the answer streamed as ``parts``."""
    conversation_id = parts[0]["messageMetadata"]["conversationId"]
    message: dict[str, Any] = client.get(f"/api/conversations/{conversation_id}").json()["messages"][-1]
    return message


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_provider_streams_grounded_answer_with_citations(
    provider: str, fake: FakeLLM, llm_client: Callable[..., Any], settings: Settings
) -> None:
    client = llm_client(provider)
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
    stored = _stored_answer(client, parts)
    assert stored["status"] == "complete" and stored["usage"]["output_tokens"] == len(ANSWER)


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_rate_limit_before_the_first_token_is_retried(
    provider: str, fake: FakeLLM, llm_client: Callable[..., Any]
) -> None:
    client = llm_client(provider)
    fake.fail_first = 1
    parts, done, _ = chat_parts(client, {"message": "How many clear nights?"})
    assert done and answer_text(parts) == "".join(ANSWER)
    assert len(fake.requests) == 2  # one 429, one success


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_failure_after_the_first_token_is_an_error_part(
    provider: str, fake: FakeLLM, llm_client: Callable[..., Any]
) -> None:
    client = llm_client(provider)
    fake.break_after_first_chunk = True
    parts, _, _ = chat_parts(client, {"message": "How many clear nights?"})
    kinds = [p["type"] for p in parts]
    assert "text-delta" in kinds and kinds[-1] == "error"
    assert parts[-1]["errorText"].startswith("provider_stream_error: ")
    assert kinds.index("text-delta") < kinds.index("error")
    assert "finish" not in kinds
    assert len(fake.requests) == 1  # nothing is retried once the stream has begun
    assert _stored_answer(client, parts)["status"] == "failed"


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_rejected_key_is_an_error_part_with_its_code(
    provider: str, fake: FakeLLM, llm_client: Callable[..., Any]
) -> None:
    client = llm_client(provider)
    fake.fail_first, fake.fail_status = 1, 401
    parts, _, _ = chat_parts(client, {"message": "How many clear nights?"})
    assert parts[-1]["type"] == "error" and parts[-1]["errorText"].startswith("provider_auth: ")
    assert len(fake.requests) == 1  # a 401 is not retried
    stored = _stored_answer(client, parts)
    assert stored["status"] == "failed" and stored["error"].startswith("provider_auth")


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
def test_a_follow_up_is_rewritten_by_the_model_before_retrieval(
    provider: str, fake: FakeLLM, llm_client: Callable[..., Any]
) -> None:
    client = llm_client(provider)
    first, _, _ = chat_parts(client, {"message": "How many clear nights did the Nordlys Observatory record?"})
    conversation_id = first[0]["messageMetadata"]["conversationId"]
    assert not [r for r in fake.requests if not r["body"].get("stream")]  # a first question is not rewritten
    fake.reply = "Nordlys Observatory budget for 2023"
    second, done, _ = chat_parts(client, {"message": "And what did it cost?", "conversation_id": conversation_id})
    assert done
    rewrites = [r["body"] for r in fake.requests if not r["body"].get("stream")]
    assert len(rewrites) == 1
    transcript = rewrites[0]["messages"][-1]["content"]
    assert "How many clear nights did the Nordlys Observatory record?" in transcript
    assert "".join(ANSWER) in transcript and transcript.endswith("Last question: And what did it cost?")
    assert second[-1]["messageMetadata"]["query"] == "Nordlys Observatory budget for 2023"
    sources = next(p for p in second if p["type"] == "data-sources")["data"]
    assert sources[0]["page_start"] == 2  # retrieved with the rewrite: the budget page comes first
    answer_request = fake.requests[-1]["body"]
    assert answer_request["stream"] is True
    assert answer_request["messages"][-1]["content"].endswith("Question: And what did it cost?")


def test_a_failed_rewrite_falls_back_to_the_heuristic(fake: FakeLLM, llm_client: Callable[..., Any]) -> None:
    client = llm_client("openai", llm_max_retries=0)
    first, _, _ = chat_parts(client, {"message": "What was the observatory budget for 2023?"})
    conversation_id = first[0]["messageMetadata"]["conversationId"]
    fake.fail_first, fake.fail_status = 1, 500
    second, done, _ = chat_parts(client, {"message": "And in euros?", "conversation_id": conversation_id})
    assert done and answer_text(second) == "".join(ANSWER)
    assert second[-1]["messageMetadata"]["query"] == "What was the observatory budget for 2023? And in euros?"


def test_off_topic_questions_are_refused_without_calling_the_model(
    fake: FakeLLM, llm_client: Callable[..., Any]
) -> None:
    client = llm_client("openai")
    parts, done, _ = chat_parts(client, {"message": "What is the recipe for Peruvian ceviche?"})
    assert done and fake.requests == []
    assert "could not find" in answer_text(parts) and parts[-1]["messageMetadata"]["refused"] is True
    on_topic, _, _ = chat_parts(client, {"message": "How many clear nights did the observatory record?"})
    assert len(fake.requests) == 1 and on_topic[-1]["messageMetadata"]["refused"] is False
    # nothing in the question matches the report, but it is scoped to the report: the model is asked
    document_id = client.get("/api/documents").json()["documents"][0]["id"]
    chat_parts(client, {"message": "Summarise this document"})
    assert len(fake.requests) == 1
    scoped, _, _ = chat_parts(client, {"message": "Summarise this document", "document_ids": [document_id]})
    assert len(fake.requests) == 2 and answer_text(scoped) == "".join(ANSWER)


def test_closing_the_client_cancels_the_upstream_request(
    fake: FakeLLM, settings: Settings, report: Path, embedder: Any
) -> None:
    """Worst of 20: the fake provider sees its connection close within 500 ms of the client's."""
    fake.chunks = [f"word{i} " for i in range(200)]
    fake.delay_s = 0.05
    app = create_app(fake.configure(settings, "openai"), embedder=embedder)
    lags: list[float] = []
    with ThreadedServer(app, lifespan="on") as server, httpx.Client(base_url=server.url, timeout=30) as client:
        upload(client, report)
        for _ in range(20):
            seen = len(fake.disconnects)
            with client.stream("POST", "/api/chat", json={"message": "How many clear nights?"}) as response:
                for line in response.iter_lines():
                    if line.startswith("data: ") and json.loads(line[6:])["type"] == "text-delta":
                        break
                closed_at = time.monotonic()
            deadline = time.monotonic() + 5
            while len(fake.disconnects) == seen and time.monotonic() < deadline:
                time.sleep(0.005)
            assert len(fake.disconnects) > seen, "the fake provider never saw the connection close"
            lags.append(fake.disconnects[seen] - closed_at)
        assert max(lags) < 0.5, f"worst of 20: {max(lags) * 1000:.0f} ms"
        conversations = client.get("/api/conversations").json()["conversations"]
        assert len(conversations) == 20
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            statuses = {
                client.get(f"/api/conversations/{c['id']}").json()["messages"][-1]["status"] for c in conversations
            }
            if "streaming" not in statuses:
                break
            time.sleep(0.05)
        assert statuses == {"cancelled"}
