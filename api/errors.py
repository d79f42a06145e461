"""Domain errors and the one place that maps them to HTTP: ``{"detail": ..., "code": ...}``, or on
the OpenAI-compatible routes (``/v1/...``) OpenAI's own shape, ``{"error": {"message", "type",
"code"}}``, so OpenAI clients report them as they would OpenAI's."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from ingest.embeddings import EmbeddingError
from ingest.index import IndexError_

__all__ = [
    "ConversationNotFound",
    "DocentError",
    "DocumentNotFound",
    "InvalidRequest",
    "JobNotFound",
    "ModelNotFound",
    "PayloadTooLarge",
    "ProviderError",
    "UnsupportedDocument",
    "install_error_handlers",
]

logger = logging.getLogger(__name__)


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
    """The LLM provider failed (timeout, refusal, bad credentials, upstream 5xx). The status
    follows the code: 429 when rate limited, 504 on a timeout, else 502; failures a retry cannot
    fix (``NOT_RETRYABLE``) tell clients so with ``x-should-retry: false`` (honoured by the
    openai SDK)."""

    status, code = 502, "provider_error"
    STATUS_BY_CODE: ClassVar[dict[str, int]] = {"provider_rate_limited": 429, "provider_timeout": 504}
    NOT_RETRYABLE: ClassVar[frozenset[str]] = frozenset({"provider_auth", "provider_model_not_found"})

    def __init__(self, detail: str, *, code: str | None = None) -> None:
        super().__init__(detail, code=code)
        self.status = self.STATUS_BY_CODE.get(self.code, 502)


class ServiceUnavailable(DocentError):
    status, code = 503, "unavailable"


class ModelNotFound(DocentError):
    status, code = 404, "model_not_found"


#: OpenAI's error ``type`` by status (its API reference, "Error codes").
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    404: "invalid_request_error",
    413: "invalid_request_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def _respond(
    request: Request, status: int, detail: object, code: str, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    if request.url.path.startswith("/v1/"):
        status = 400 if status == 422 else status  # OpenAI answers invalid requests with 400
        kind = _OPENAI_TYPES.get(status, "api_error")
        body: dict[str, object] = {"error": {"message": str(detail), "type": kind, "code": code}}
    else:
        body = {"detail": detail, "code": code}
    return JSONResponse(body, status_code=status, headers=headers)


async def _handle(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, DocentError)
    headers = {"x-should-retry": "false"} if exc.code in ProviderError.NOT_RETRYABLE else None
    return _respond(request, exc.status, exc.detail, exc.code, headers)


async def _handle_validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    problems = "; ".join(f"{'.'.join(str(p) for p in err['loc'] if p != 'body')}: {err['msg']}" for err in exc.errors())
    return _respond(request, 422, problems or "invalid request", "invalid_request")


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}


async def _handle_http(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _HTTP_CODES.get(exc.status_code, f"http_{exc.status_code}")
    return _respond(request, exc.status_code, exc.detail, code, exc.headers)


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    if isinstance(exc, IndexError_ | EmbeddingError):
        logger.error("store unavailable: %s", exc)
        return _respond(request, 503, str(exc), "unavailable")
    logger.exception("unhandled error", exc_info=exc)
    return _respond(request, 500, "internal error", "internal_error")


def install_error_handlers(app: FastAPI) -> None:
    """Every error leaves as ``{"detail", "code"}``: domain errors with their status, validation
    errors as 422, index or embedder failures as 503, anything else as 500."""
    app.add_exception_handler(DocentError, _handle)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(Exception, _handle_unexpected)
