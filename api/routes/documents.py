"""Documents and ingest jobs."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, File, Form, Query, Request, UploadFile, status
from fastapi.responses import FileResponse, Response
from sse_starlette import EventSourceResponse

from api.deps import DocumentsDep
from api.documents import document_public
from api.routes import SSE_HEADERS
from api.schemas import DocumentList, DocumentPublic, JobPublic, UploadResponse
from ingest.models import JobStatus

router = APIRouter(prefix="/api", tags=["documents"])

JOB_POLL_S = 0.25


@router.post("/documents", status_code=status.HTTP_202_ACCEPTED, response_model=UploadResponse)
async def upload_documents(
    service: DocumentsDep,
    files: Annotated[list[UploadFile], File(description="One or more files (PDF, TXT, Markdown, HTML, DOCX).")],
    collection: Annotated[str | None, Form(max_length=200)] = None,
) -> UploadResponse:
    """Upload one or many files. Each becomes an ingest job; a file whose content is already in
    the collection is reported as a `duplicate` job pointing at the existing document. 413 when
    a file exceeds the per-file limit or the request the request limit, 415 for an unsupported
    type (nothing of such a request is kept)."""
    return UploadResponse(jobs=await service.receive(files, collection))


@router.get("/documents", response_model=DocumentList)
def list_documents(service: DocumentsDep, collection: Annotated[str | None, Query()] = None) -> DocumentList:
    """Every document, newest first; optionally only one collection's."""
    return DocumentList(documents=service.list(collection))


@router.get("/documents/{document_id}", response_model=DocumentPublic)
def get_document(document_id: str, service: DocumentsDep) -> DocumentPublic:
    """One document's catalog entry."""
    return document_public(service.get(document_id))


@router.delete("/documents/{document_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_document(document_id: str, service: DocumentsDep) -> Response:
    """Delete a document: its catalog rows, keyword entries and vectors go together."""
    service.delete(document_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/documents/{document_id}/file", response_class=FileResponse)
def get_document_file(document_id: str, service: DocumentsDep) -> FileResponse:
    """The original file, for the viewer (PDFs open inline; append `#page=N` to jump)."""
    doc = service.get(document_id)
    return FileResponse(
        Path(doc.stored_path),
        media_type=doc.content_type,
        filename=doc.filename,
        content_disposition_type="inline",
        headers={"X-Content-Type-Options": "nosniff"},
    )


@router.get("/jobs/{job_id}", response_model=JobPublic)
def get_job(job_id: str, service: DocumentsDep) -> JobPublic:
    """One ingest job: status, pages and chunks so far, error and its code."""
    return service.job(job_id)


@router.post("/jobs/{job_id}/cancel", status_code=status.HTTP_202_ACCEPTED, response_model=JobPublic)
def cancel_job(job_id: str, service: DocumentsDep) -> JobPublic:
    """Cancel an ingest job: a queued one ends `cancelled` at once, a running one within a moment
    (watch its events); its document is left `failed` ("cancelled") and uploading the file again
    retries it. A job already over is returned unchanged."""
    return service.cancel_job(job_id)


@router.get("/jobs/{job_id}/events", response_class=EventSourceResponse)
async def job_events(job_id: str, request: Request, service: DocumentsDep) -> EventSourceResponse:
    """Server-sent `progress` events (a JobPublic each: stage, pages, chunks, `eta_s`) until the
    job ends."""
    first = await asyncio.to_thread(service.job, job_id)

    async def events() -> AsyncIterator[dict[str, str]]:
        job, last = first, ""
        while True:
            payload = job.model_dump_json()
            if payload != last:
                yield {"event": "progress", "data": payload}
                last = payload
            if JobStatus(job.status).terminal or await request.is_disconnected():
                return
            await asyncio.sleep(JOB_POLL_S)
            job = await asyncio.to_thread(service.job, job_id)

    return EventSourceResponse(events(), headers=SSE_HEADERS)
