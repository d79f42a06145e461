"""Typed dependencies: collaborators built in the lifespan, handed to routes from ``app.state``.

They are ``async``: each is an attribute read, and FastAPI runs a plain ``def`` dependency on its
thread pool, a hand-off to a worker thread and back for every one on every request."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from api.chat.providers import ChatProvider
from api.chat.service import ChatService
from api.conversations import ConversationService
from api.documents import DocumentService, IngestWorker
from api.retrieval import Retriever
from ingest.embeddings import Embedder
from ingest.index import VectorIndex
from ingest.settings import Settings

__all__ = ["AppState", "ChatDep", "ConversationsDep", "DocumentsDep", "RetrieverDep", "StateDep"]


@dataclass
class AppState:
    """Everything the lifespan builds once."""

    settings: Settings
    engine: Engine
    session_factory: sessionmaker[Session]
    embedder: Embedder
    vector_index: VectorIndex
    provider: ChatProvider
    retriever: Retriever
    documents: DocumentService
    chat: ChatService
    conversations: ConversationService
    worker: IngestWorker


async def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.docent
    return state


StateDep = Annotated[AppState, Depends(get_state)]


async def get_documents(state: StateDep) -> DocumentService:
    return state.documents


async def get_retriever(state: StateDep) -> Retriever:
    return state.retriever


async def get_chat(state: StateDep) -> ChatService:
    return state.chat


async def get_conversations(state: StateDep) -> ConversationService:
    return state.conversations


DocumentsDep = Annotated[DocumentService, Depends(get_documents)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
ConversationsDep = Annotated[ConversationService, Depends(get_conversations)]
