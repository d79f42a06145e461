"""Shared fixtures: settings on a temp data dir, the real local embedder (loaded once), an app
client, and locators for ../shared/data and the PostgreSQL server (skipping with a reason)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from ingest.embeddings import LocalOnnxEmbedder
from ingest.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("DOCENT_SHARED_DATA", REPO.parent / "shared" / "data"))
POSTGRES_URL = os.environ.get("DOCENT_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def shared_data(*parts: str) -> Path:
    """A path under ../shared/data, or skip the test saying what is missing."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (the shared real-document corpus, outside the repo)")
    return path


def postgres_url() -> str:
    """The test PostgreSQL URL, or skip when no server answers there."""
    import psycopg

    conninfo = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        psycopg.connect(conninfo, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        pytest.skip(f"no PostgreSQL at {conninfo}: {str(exc).strip().splitlines()[0]}")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def chroma_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Chroma server (`chroma run`, shipped in the chromadb package) on a free port: its URL."""
    from tests.fixtures.server import free_port, wait_until_healthy

    binary = shutil.which("chroma", path=str(Path(sys.executable).parent))
    if binary is None:
        pytest.skip("the `chroma` command from the chromadb package is not installed")
    port = free_port()
    path = tmp_path_factory.mktemp("chroma-server")
    proc = subprocess.Popen(
        [binary, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(f"{url}/api/v2/heartbeat", proc, timeout_s=60)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture(scope="session")
def embedder(tmp_path_factory: pytest.TempPathFactory) -> LocalOnnxEmbedder:
    """The real all-MiniLM-L6-v2 ONNX model from site-packages, shared by all tests (its int8
    query model built into a temporary cache, not the user's)."""
    return LocalOnnxEmbedder(batch_size=32, cache_dir=tmp_path_factory.mktemp("models"))


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", llm_provider="extractive", chroma_url=None, database_url=None)


@pytest.fixture
def make_client(embedder: LocalOnnxEmbedder) -> Iterator[object]:
    """Factory: ``make_client(settings)`` → a started TestClient (lifespan run) for that app."""
    from fastapi.testclient import TestClient

    from api.app import create_app

    clients: list[TestClient] = []

    def build(settings: Settings) -> TestClient:
        client = TestClient(create_app(settings, embedder=embedder))
        client.__enter__()
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.__exit__(None, None, None)
