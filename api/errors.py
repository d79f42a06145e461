"""Domain errors and the one place that maps them to HTTP (``{"detail": ..., "code": ...}``)."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

__all__ = [
    "ConversationNotFound",
    "DocentError",
    "DocumentNotFound",
    "InvalidRequest",
    "JobNotFound",
    "PayloadTooLarge",
    "ProviderError",
    "UnsupportedDocument",
    "install_error_handlers",
]


class DocentError(Exception):
    """Base of every error the API reports; ``status`` and ``code`` travel to the client."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code


class DocumentNotFound(DocentError):
    status, code = 404, "document_not_found"


class JobNotFound(DocentError):
    status, code = 404, "job_not_found"


class ConversationNotFound(DocentError):
    status, code = 404, "conversation_not_found"


class CollectionNotFound(DocentError):
    status, code = 404, "collection_not_found"


class UnsupportedDocument(DocentError):
    status, code = 415, "unsupported_format"


class PayloadTooLarge(DocentError):
    status, code = 413, "payload_too_large"


class InvalidRequest(DocentError):
    status, code = 422, "invalid_request"


class ProviderError(DocentError):
    """The LLM provider failed (timeout, refusal, bad credentials, upstream 5xx)."""

    status, code = 502, "provider_error"


class ServiceUnavailable(DocentError):
    status, code = 503, "unavailable"


async def _handle(_request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DocentError)
    return JSONResponse({"detail": exc.detail, "code": exc.code}, status_code=exc.status)


def install_error_handlers(app: FastAPI) -> None:
    """Register the handler that turns ``DocentError`` into its JSON response."""
    app.add_exception_handler(DocentError, _handle)
