"""Anthropic messages, streamed. ``max_tokens`` is required by the API and comes from settings.

The installed SDK's ``messages.stream`` takes no ``temperature`` (recent Claude models fix it), so
``DOCENT_LLM_TEMPERATURE`` applies to the openai provider only."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from typing import Any

import anthropic

from api.chat.prompt import (
    REWRITE_MAX_TOKENS,
    REWRITE_TIMEOUT_S,
    GenerationRequest,
    build_rewrite_request,
    clean_rewrite,
)
from api.chat.providers import TextDelta, Usage, provider_error, transport_errors
from ingest.settings import Settings

__all__ = ["AnthropicProvider"]

#: What can break a stream mid-iteration: the SDK's errors and its HTTP client's.
_STREAM_ERRORS: tuple[type[Exception], ...] = (anthropic.AnthropicError, *transport_errors())

DEFAULT_MODEL = "claude-haiku-4-5"


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, client: anthropic.AsyncAnthropic, *, model: str, max_tokens: int) -> None:
        self._client = client
        self.model = model
        self.max_tokens = max_tokens

    async def aclose(self) -> None:
        await self._client.close()

    @classmethod
    def from_settings(cls, settings: Settings) -> AnthropicProvider:
        client = anthropic.AsyncAnthropic(
            api_key=settings.llm_api_key or None,
            base_url=settings.llm_base_url,
            timeout=anthropic.Timeout(settings.llm_timeout_s, connect=settings.llm_connect_timeout_s),
            max_retries=settings.llm_max_retries,
        )
        return cls(
            client,
            model=settings.llm_model or DEFAULT_MODEL,
            max_tokens=settings.llm_max_tokens,
        )

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TextDelta | Usage, None]:
        messages: list[Any] = request.messages
        input_tokens: int | None = None
        started = False
        try:
            async with self._client.messages.stream(
                model=self.model,
                system=request.system,
                messages=messages,
                max_tokens=self.max_tokens,
            ) as stream:
                async for event in stream:
                    if event.type == "message_start":
                        input_tokens = event.message.usage.input_tokens
                    elif event.type == "content_block_delta" and event.delta.type == "text_delta":
                        started = True
                        yield TextDelta(event.delta.text)
                    elif event.type == "message_delta":
                        yield Usage(input_tokens, event.usage.output_tokens)
        except _STREAM_ERRORS as exc:
            raise provider_error(self.name, exc, streaming=started) from exc

    async def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        request = build_rewrite_request(question, history)
        messages: list[Any] = request.messages
        client = self._client.with_options(timeout=REWRITE_TIMEOUT_S, max_retries=0)
        try:
            response = await client.messages.create(
                model=self.model, system=request.system, messages=messages, max_tokens=REWRITE_MAX_TOKENS
            )
        except anthropic.AnthropicError as exc:
            raise provider_error(self.name, exc, streaming=False) from exc
        text = "".join(block.text for block in response.content if block.type == "text")
        return clean_rewrite(text, complete=response.stop_reason != "max_tokens")
