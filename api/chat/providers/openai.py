"""OpenAI chat completions, streamed; also any OpenAI-compatible server by base URL (Ollama, vLLM,
llama.cpp, LM Studio). The SDK retries 429/5xx itself, and only before the stream starts."""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from typing import Any

import openai

from api.chat.prompt import (
    REWRITE_MAX_TOKENS,
    REWRITE_TIMEOUT_S,
    GenerationRequest,
    build_rewrite_request,
    clean_rewrite,
)
from api.chat.providers import TextDelta, Usage, provider_error, transport_errors
from ingest.settings import Settings

__all__ = ["OpenAIProvider"]

#: What can break a stream mid-iteration: the SDK's errors and its HTTP client's.
_STREAM_ERRORS: tuple[type[Exception], ...] = (openai.OpenAIError, *transport_errors())

DEFAULT_MODEL = "gpt-4o-mini"


class OpenAIProvider:
    name = "openai"

    def __init__(self, client: openai.AsyncOpenAI, *, model: str, temperature: float, max_tokens: int) -> None:
        self._client = client
        self.model = model
        self.temperature = temperature
        self.max_tokens = max_tokens

    async def aclose(self) -> None:
        await self._client.close()

    @classmethod
    def from_settings(cls, settings: Settings) -> OpenAIProvider:
        api_key = settings.llm_api_key or None
        if api_key is None and settings.llm_base_url and "OPENAI_API_KEY" not in os.environ:
            api_key = "not-needed"  # local OpenAI-compatible servers take any key
        client = openai.AsyncOpenAI(
            api_key=api_key,
            base_url=settings.llm_base_url,
            timeout=openai.Timeout(settings.llm_timeout_s, connect=settings.llm_connect_timeout_s),
            max_retries=settings.llm_max_retries,
        )
        return cls(
            client,
            model=settings.llm_model or DEFAULT_MODEL,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
        )

    async def stream(self, request: GenerationRequest) -> AsyncGenerator[TextDelta | Usage, None]:
        messages: list[Any] = [{"role": "system", "content": request.system}, *request.messages]
        try:
            stream = await self._client.chat.completions.create(
                model=self.model,
                messages=messages,
                stream=True,
                stream_options={"include_usage": True},
                temperature=self.temperature,
                max_tokens=self.max_tokens,
            )
        except openai.OpenAIError as exc:
            raise provider_error(self.name, exc, streaming=False) from exc
        started = False
        try:
            async for chunk in stream:
                if chunk.choices:
                    content = chunk.choices[0].delta.content
                    if content:
                        started = True
                        yield TextDelta(content)
                if chunk.usage is not None:
                    yield Usage(chunk.usage.prompt_tokens, chunk.usage.completion_tokens)
        except _STREAM_ERRORS as exc:
            raise provider_error(self.name, exc, streaming=started) from exc
        finally:
            await stream.close()

    async def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        request = build_rewrite_request(question, history)
        messages: list[Any] = [{"role": "system", "content": request.system}, *request.messages]
        client = self._client.with_options(timeout=REWRITE_TIMEOUT_S, max_retries=0)
        try:
            response = await client.chat.completions.create(
                model=self.model, messages=messages, temperature=0, max_tokens=REWRITE_MAX_TOKENS
            )
        except openai.OpenAIError as exc:
            raise provider_error(self.name, exc, streaming=False) from exc
        if not response.choices:
            return ""
        choice = response.choices[0]
        return clean_rewrite(choice.message.content or "", complete=choice.finish_reason != "length")
