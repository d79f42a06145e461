"""Health of the catalog, the vector index, the embedder and the LLM provider."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from api.deps import StateDep
from api.schemas import ComponentHealth, HealthResponse

router = APIRouter(prefix="/api", tags=["health"])


@router.get("/health", response_model=HealthResponse, responses={503: {"model": HealthResponse}})
def health(state: StateDep) -> JSONResponse:
    """`ok` when every component answers; 503 and `degraded` otherwise."""
    components: dict[str, ComponentHealth] = {}
    try:
        with state.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        components["database"] = ComponentHealth(ok=True, detail=state.engine.dialect.name)
    except Exception as exc:  # reported, not raised: this endpoint exists to say what is broken
        components["database"] = ComponentHealth(ok=False, detail=str(exc))
    try:
        count = state.vector_index.count()
        components["index"] = ComponentHealth(ok=True, detail=f"chroma, {count} vectors")
    except Exception as exc:  # reported, not raised
        components["index"] = ComponentHealth(ok=False, detail=str(exc))
    replica = state.retriever.keyword_index.replica(state.engine)
    components["keyword_index"] = ComponentHealth(
        ok=True,
        detail=f"bm25 in memory, {replica.rows} chunks as of the last search"
        if replica.ready
        else "loading into memory; the catalog's full-text index answers meanwhile",
    )
    components["embedder"] = ComponentHealth(ok=True, detail=state.embedder.name)
    components["provider"] = ComponentHealth(ok=True, detail=f"{state.provider.name}:{state.provider.model}")
    components["ingest_queue"] = ComponentHealth(ok=True, detail=f"{state.worker.pending} jobs waiting")
    ok = all(c.ok for c in components.values())
    body = HealthResponse(status="ok" if ok else "degraded", components=components)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)
