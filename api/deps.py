"""Typed dependencies: collaborators built in the lifespan, handed to routes from ``app.state``."""

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


def get_state(request: Request) -> AppState:
    state: AppState = request.app.state.docent
    return state


StateDep = Annotated[AppState, Depends(get_state)]


def get_documents(state: StateDep) -> DocumentService:
    return state.documents


def get_retriever(state: StateDep) -> Retriever:
    return state.retriever


def get_chat(state: StateDep) -> ChatService:
    return state.chat


def get_conversations(state: StateDep) -> ConversationService:
    return state.conversations


DocumentsDep = Annotated[DocumentService, Depends(get_documents)]
RetrieverDep = Annotated[Retriever, Depends(get_retriever)]
ChatDep = Annotated[ChatService, Depends(get_chat)]
ConversationsDep = Annotated[ConversationService, Depends(get_conversations)]
