"""Provider failures get codes that say what went wrong; a model's rewrite is cleaned or rejected."""

from __future__ import annotations

import httpx2
import openai

from api.chat.prompt import clean_rewrite
from api.chat.providers import provider_error


def test_failures_are_coded_by_what_went_wrong() -> None:
    request = httpx2.Request("POST", "http://127.0.0.1:9/v1/chat/completions")
    assert provider_error("openai", openai.APITimeoutError(request=request), streaming=False).code == "provider_timeout"
    assert provider_error("openai", openai.APIConnectionError(request=request), streaming=False).code == (
        "provider_unreachable"
    )
    assert provider_error("anthropic", httpx2.ReadTimeout("read"), streaming=False).code == "provider_timeout"
    assert provider_error("anthropic", httpx2.ConnectError("refused"), streaming=False).code == "provider_unreachable"
    limited = openai.RateLimitError("slow down", response=httpx2.Response(429, request=request), body=None)
    error = provider_error("openai", limited, streaming=False)
    assert error.code == "provider_rate_limited" and error.status == 429
    assert provider_error("openai", ValueError("odd"), streaming=False).code == "provider_error"
    # once tokens have been streamed, any failure is a broken stream
    assert provider_error("openai", httpx2.ReadTimeout("read"), streaming=True).code == "provider_stream_error"


def test_a_rewrite_keeps_one_clean_line_or_nothing() -> None:
    assert clean_rewrite('  "Nordlys budget 2023"\n', complete=True) == "Nordlys budget 2023"
    assert clean_rewrite("<think>the user means the budget</think>\nNordlys budget 2023", complete=True) == (
        "Nordlys budget 2023"
    )
    assert clean_rewrite("<think>still thinking about", complete=True) == ""
    assert clean_rewrite("Nordlys budget", complete=False) == ""  # cut off at the token limit
    assert len(clean_rewrite("x" * 1000, complete=True)) == 300
