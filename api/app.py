"""The FastAPI application: ``create_app(settings)``; the lifespan builds every collaborator once.

Run with ``uvicorn api.app:create_app --factory`` or ``docent serve``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from api.chat.providers import ChatProvider, build_provider
from api.chat.service import build_chat_service
from api.conversations import ConversationService
from api.deps import AppState
from api.documents import DocumentService, IngestWorker
from api.errors import install_error_handlers
from api.retrieval import build_retriever
from api.routes import chat, conversations, documents, health, openai_compat, retrieve
from ingest.db import build_catalog
from ingest.embeddings import Embedder, LocalOnnxEmbedder, build_embedder
from ingest.index import VectorIndex, acquire_writer_lock
from ingest.pipeline import IngestPipeline
from ingest.settings import Settings

__all__ = ["FRONTEND_DIR", "create_app"]

logger = logging.getLogger(__name__)

FRONTEND_DIR = Path(__file__).resolve().parent.parent / "frontend" / "out"


def create_app(settings: Settings | None = None, *, embedder: Embedder | None = None) -> FastAPI:
    """Build the app. ``settings`` default to the environment; ``embedder`` may be injected (tests)."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        lock = acquire_writer_lock(settings)
        worker: IngestWorker | None = None
        provider: ChatProvider | None = None
        engine: Engine | None = None
        try:
            engine, session_factory = build_catalog(settings)
            emb = embedder or build_embedder(settings)
            vector_index = VectorIndex.from_settings(settings, embedder_name=emb.name, dimension=emb.dimension)
            provider = build_provider(settings, emb)
            pipeline = IngestPipeline(
                settings=settings, session_factory=session_factory, embedder=emb, vector_index=vector_index
            )
            worker = IngestWorker(pipeline, exclusive=lock is not None)
            retriever = build_retriever(
                settings, session_factory=session_factory, embedder=emb, vector_index=vector_index
            )
            retriever.keyword_index.replica(engine).load_in_background(engine)
            if isinstance(emb, LocalOnnxEmbedder):  # its query model, built or loaded beside start-up
                threading.Thread(target=emb.warm_queries, name="docent-warm-queries", daemon=True).start()
            app.state.docent = AppState(
                settings=settings,
                engine=engine,
                session_factory=session_factory,
                embedder=emb,
                vector_index=vector_index,
                provider=provider,
                retriever=retriever,
                documents=DocumentService(
                    pipeline=pipeline,
                    worker=worker,
                    session_factory=session_factory,
                    max_upload_bytes=settings.max_upload_mb << 20,
                ),
                chat=build_chat_service(settings, retriever, provider),
                conversations=ConversationService(session_factory=session_factory),
                worker=worker,
            )
            worker.start()
            logger.info(
                "docent ready data_dir=%s embedder=%s provider=%s:%s",
                settings.data_dir,
                emb.name,
                provider.name,
                provider.model,
            )
            yield
        finally:
            stopped = worker is None or worker.stop()
            if provider is not None:
                await provider.aclose()
            if engine is not None:
                engine.dispose()
            if lock is not None:
                if stopped:
                    lock.release()
                else:  # a job is still writing: the lock goes with the process, not before
                    logger.warning("ingest still running at shutdown; keeping the writer lock until exit")

    app = FastAPI(
        title="docent",
        version="0.1.0",
        summary="Grounded, cited answers over your own documents.",
        lifespan=lifespan,
        # enforced while the body is received (Starlette's RequestBodyLimitMiddleware): 413 past it
        max_body_size=settings.max_request_mb << 20,
    )
    install_error_handlers(app)
    for module in (documents, retrieve, chat, conversations, health, openai_compat):
        app.include_router(module.router)
    if (FRONTEND_DIR / "index.html").is_file():
        app.mount("/", StaticFiles(directory=FRONTEND_DIR, html=True), name="ui")
    else:

        @app.get("/", include_in_schema=False)
        def no_ui() -> JSONResponse:
            return JSONResponse({"detail": "the UI is not built: run `make run` (or `make ui`)", "docs": "/docs"})

    return app
