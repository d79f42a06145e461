"""The reranking stage: reorder fused candidates with a stronger relevance model.

``IdentityReranker`` (the default) keeps the fused order. ``HttpReranker`` calls a ``/rerank``
endpoint in the format shared by Cohere, Jina, vLLM and Hugging Face TEI's OpenAI-style servers:
request ``{"model", "query", "documents": [str], "top_n"}``, response ``{"results": [{"index",
"relevance_score"}]}``. No cross-encoder runs locally: model weights cannot be downloaded here.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import httpx

from ingest.settings import Settings

__all__ = ["HttpReranker", "IdentityReranker", "RerankError", "Reranker", "build_reranker"]

logger = logging.getLogger(__name__)


class RerankError(RuntimeError):
    """The rerank endpoint failed or answered in an unexpected shape."""


class Reranker(Protocol):
    """Scores ``documents`` against ``query``; returns ``(index into documents, score)``, best first."""

    name: str

    def rerank(self, query: str, documents: Sequence[str]) -> list[tuple[int, float]]: ...


class IdentityReranker:
    """Keeps the order it is given (scores descend from 1)."""

    name = "identity"

    def rerank(self, query: str, documents: Sequence[str]) -> list[tuple[int, float]]:
        return [(i, 1.0 / (i + 1)) for i in range(len(documents))]


class HttpReranker:
    """A Cohere-style ``POST {base_url}/rerank``. Raises ``RerankError``."""

    def __init__(self, client: httpx.Client, *, model: str) -> None:
        self._client = client
        self.model = model
        self.name = f"http:{model}"

    def rerank(self, query: str, documents: Sequence[str]) -> list[tuple[int, float]]:
        if not documents:
            return []
        body = {"model": self.model, "query": query, "documents": list(documents), "top_n": len(documents)}
        try:
            response = self._client.post("/rerank", json=body)
            response.raise_for_status()
            results = response.json()["results"]
            ranked = [(int(r["index"]), float(r["relevance_score"])) for r in results]
        except (httpx.HTTPError, KeyError, TypeError, ValueError) as exc:
            raise RerankError(f"rerank request failed: {exc}") from exc
        if any(not 0 <= i < len(documents) for i, _ in ranked):
            raise RerankError("rerank response has an index out of range")
        return sorted(ranked, key=lambda pair: pair[1], reverse=True)


def build_reranker(settings: Settings) -> Reranker:
    """``HttpReranker`` when ``DOCENT_RERANK_URL`` is set, else ``IdentityReranker``."""
    if not settings.rerank_url:
        return IdentityReranker()
    headers = {"Authorization": f"Bearer {settings.rerank_api_key}"} if settings.rerank_api_key else {}
    client = httpx.Client(base_url=settings.rerank_url, headers=headers, timeout=httpx.Timeout(10.0, connect=3.0))
    return HttpReranker(client, model=settings.rerank_model)
