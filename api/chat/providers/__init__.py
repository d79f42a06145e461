"""LLM providers behind one protocol, chosen by name from settings.

A provider streams ``TextDelta`` and (at most once) ``Usage`` events for a ``GenerationRequest``.
SDK clients are built once, in ``build_provider`` (called from the lifespan); each SDK is imported
lazily in its own module.
"""

from __future__ import annotations

import os
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Protocol

from api.chat.prompt import GenerationRequest
from api.errors import ProviderError
from ingest.embeddings import Embedder
from ingest.settings import Settings

__all__ = [
    "ChatProvider",
    "Confidence",
    "ProviderEvent",
    "TextDelta",
    "Usage",
    "build_provider",
    "provider_error",
    "resolve_provider_name",
    "transport_errors",
]

#: ``ProviderError.code`` by exception class name (the openai and anthropic SDKs share theirs; the
#: last two are httpx's), most specific first; anything else is ``provider_error``.
_ERROR_CODES = (
    ("RateLimitError", "provider_rate_limited"),
    ("AuthenticationError", "provider_auth"),
    ("PermissionDeniedError", "provider_auth"),
    ("NotFoundError", "provider_model_not_found"),
    ("APITimeoutError", "provider_timeout"),
    ("APIConnectionError", "provider_unreachable"),
    ("TimeoutException", "provider_timeout"),  # the HTTP client's own, when it escapes the SDK
    ("TransportError", "provider_unreachable"),
)


def provider_error(provider: str, exc: Exception, *, streaming: bool) -> ProviderError:
    """An SDK or transport failure as a ``ProviderError`` whose ``code`` says what went wrong:
    ``provider_rate_limited``, ``provider_auth``, ``provider_model_not_found``,
    ``provider_timeout``, ``provider_unreachable``, ``provider_stream_error`` (the stream broke
    after it began) or ``provider_error``."""
    if streaming:
        return ProviderError(f"{provider} stream failed: {exc}", code="provider_stream_error")
    names = {cls.__name__ for cls in type(exc).__mro__}
    code = next((c for name, c in _ERROR_CODES if name in names), "provider_error")
    return ProviderError(f"{provider} request failed: {exc}", code=code)


def transport_errors() -> tuple[type[Exception], ...]:
    """The HTTP client errors an SDK stream can raise mid-iteration. The SDKs moved from ``httpx``
    to ``httpx2``; whichever is installed counts."""
    found: list[type[Exception]] = []
    for module_name in ("httpx2", "httpx"):
        try:
            module = __import__(module_name)
        except ImportError:
            continue
        found.append(module.HTTPError)
    return tuple(found)


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Usage:
    input_tokens: int | None
    output_tokens: int | None


@dataclass(frozen=True)
class Confidence:
    """How well the provider's best evidence matched, on its own scale (the extractive provider's
    best sentence score); at most once, before the text."""

    score: float


#: What a provider's stream yields.
ProviderEvent = TextDelta | Usage | Confidence


class ChatProvider(Protocol):
    """Streams an answer. Raises ``api.errors.ProviderError`` for upstream failures."""

    name: str
    model: str

    def stream(self, request: GenerationRequest) -> AsyncGenerator[ProviderEvent, None]: ...

    async def rewrite(self, question: str, history: list[tuple[str, str]]) -> str:
        """``question`` as a standalone retrieval query given the earlier ``(role, content)``
        turns. Raises ``ProviderError``."""
        ...

    async def aclose(self) -> None:
        """Release the SDK client (called at shutdown)."""
        ...


def resolve_provider_name(settings: Settings) -> str:
    """The configured provider, or by key: openai, then anthropic, else extractive."""
    if settings.llm_provider:
        return settings.llm_provider
    if os.environ.get("OPENAI_API_KEY"):
        return "openai"
    if os.environ.get("ANTHROPIC_API_KEY"):
        return "anthropic"
    return "extractive"


def build_provider(settings: Settings, embedder: Embedder, *, paced: bool = True) -> ChatProvider:
    """The provider named by settings, with its SDK client built once. ``paced=False`` streams
    extractive answers without the reading pace (evaluation)."""
    match resolve_provider_name(settings):
        case "openai":
            from api.chat.providers.openai import OpenAIProvider

            return OpenAIProvider.from_settings(settings)
        case "anthropic":
            from api.chat.providers.anthropic import AnthropicProvider

            return AnthropicProvider.from_settings(settings)
        case _:
            from api.chat.providers.extractive import STREAM_PACE_S, ExtractiveProvider

            return ExtractiveProvider(
                embedder, min_score=settings.extractive_min_score, pace_s=STREAM_PACE_S if paced else 0.0
            )
