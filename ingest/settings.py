"""Settings for every part of docent, read from the environment (prefix ``DOCENT_``).

Build one with ``Settings()`` in a factory or the lifespan and pass it down; never at import.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["Settings"]

LLMProviderName = Literal["extractive", "openai", "anthropic"]


class Settings(BaseSettings):
    """Every knob docent reads. Paths are relative to the working directory unless absolute."""

    model_config = SettingsConfigDict(env_prefix="DOCENT_", env_file=None, extra="ignore")

    data_dir: Path = Field(default=Path("data"), description="Runtime state: docent.db, chroma/, uploads/.")
    host: str = "127.0.0.1"
    port: int = 8000
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset means the SQLite file data_dir/docent.db."
    )
    chroma_url: str | None = Field(
        default=None, description="http://host:port of a Chroma server; unset means embedded at data_dir/chroma."
    )
    chroma_collection: str = Field(
        default="docent", description="Prefix of the Chroma collections (one per docent collection)."
    )
    hnsw_ef_search: int = Field(
        default=400,
        ge=10,
        description="HNSW ef_search of every collection (set at creation, and on opening one made with another). "
        "Retrieval fuses the 200 nearest chunks, so it is chosen for ANN recall@200 against exact search >= 0.98: "
        "the 75 FinanceBench dev questions at 105k chunks (`python -m tests.bench.ann_recall eval-financebench "
        "--questions …`), 200 -> 0.960, 400 -> 0.989.",
    )

    embedding_provider: Literal["local", "openai"] = "local"
    embedding_model: str | None = Field(default=None, description="For the openai embedding provider.")
    embedding_batch_size: int = Field(default=32, ge=1, le=1024)
    onnx_threads: int = Field(default=0, ge=0, description="onnxruntime intra-op threads; 0 = all cores.")

    chunk_size: int = Field(default=800, ge=100, description="Characters per chunk (~200 MiniLM tokens).")
    chunk_overlap: int = Field(default=120, ge=0)

    max_upload_mb: int = Field(default=200, ge=1, description="Per-file upload limit.")
    max_request_mb: int = Field(default=1024, ge=1, description="Whole-request limit, checked while receiving.")
    parse_timeout_s: float = Field(default=300.0, gt=0, description="Wall-time limit of one parse.")
    parse_memory_mb: int = Field(default=2048, ge=256, description="Address-space limit of the parser.")

    llm_provider: LLMProviderName | None = Field(
        default=None,
        description="Unset: openai if OPENAI_API_KEY is set, anthropic if ANTHROPIC_API_KEY, else extractive.",
    )
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key: str | None = None
    llm_temperature: float = Field(default=0.1, ge=0, le=2)
    llm_max_tokens: int = Field(default=1024, ge=16)
    llm_timeout_s: float = Field(default=60.0, gt=0)
    llm_connect_timeout_s: float = Field(default=10.0, gt=0)
    llm_max_retries: int = Field(default=2, ge=0)

    retrieve_k: int = Field(default=8, ge=1, le=50)
    rerank_url: str | None = Field(
        default=None, description="Base URL of a Cohere-style /rerank endpoint; unset keeps the fused order."
    )
    rerank_model: str = "rerank"
    rerank_api_key: str | None = None
    rerank_candidates: int = Field(default=30, ge=1, le=200, description="Fused candidates sent to the reranker.")
    extractive_min_score: float = Field(
        default=0.45,
        description="Extractive provider: best sentence score below this refuses. Calibrated with `docent eval "
        "squad --answers` on the SQuAD 2.0 dev half: the most refusals of unanswerable questions (0.134; 0.137 "
        "with the int8 query model) while answering at least 90% of answerable ones (0.929; 0.923).",
    )
    refusal_min_similarity: float = Field(
        default=0.20,
        ge=-1,
        le=1,
        description="Chat refuses without calling the LLM when no retrieved passage reaches this cosine "
        "similarity to the query and none matches its terms; questions scoped to documents always go through "
        "(every answerable SQuAD 2.0 dev question reaches 0.20 with MiniLM).",
    )

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @cached_property
    def sqlalchemy_url(self) -> str:
        """The database URL in use: ``database_url`` or the SQLite file under ``data_dir``."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'docent.db').resolve()}"

    @property
    def chroma_dir(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def uploads_dir(self) -> Path:
        return self.data_dir / "uploads"

    def ensure_dirs(self) -> None:
        """Create the data directory tree (idempotent)."""
        for path in (self.data_dir, self.chroma_dir, self.uploads_dir):
            path.mkdir(parents=True, exist_ok=True)
