"""Stored conversations."""

from __future__ import annotations

from fastapi import APIRouter, status
from fastapi.responses import Response

from api.deps import ConversationsDep
from api.schemas import ConversationList, ConversationPublic

router = APIRouter(prefix="/api", tags=["conversations"])


@router.get("/conversations", response_model=ConversationList)
def list_conversations(service: ConversationsDep) -> ConversationList:
    """Conversations, most recently active first."""
    return service.list()


@router.get("/conversations/{conversation_id}", response_model=ConversationPublic)
def get_conversation(conversation_id: str, service: ConversationsDep) -> ConversationPublic:
    """A conversation with its messages, their sources and citations."""
    return service.get(conversation_id)


@router.delete("/conversations/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT, response_class=Response)
def delete_conversation(conversation_id: str, service: ConversationsDep) -> Response:
    """Delete a conversation and its messages."""
    service.delete(conversation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
