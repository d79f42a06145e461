"""Reading and deleting stored conversations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload, sessionmaker

from api.errors import ConversationNotFound
from api.models import Conversation
from api.schemas import ConversationList, ConversationPublic, ConversationSummary, MessagePublic

__all__ = ["ConversationService"]


class ConversationService:
    def __init__(self, *, session_factory: sessionmaker[Session]) -> None:
        self.session_factory = session_factory

    def list(self, limit: int = 100) -> ConversationList:
        with self.session_factory() as session:
            rows = session.scalars(select(Conversation).order_by(Conversation.updated_at.desc()).limit(limit))
            return ConversationList(
                conversations=[ConversationSummary.model_validate(c, from_attributes=True) for c in rows]
            )

    def get(self, conversation_id: str) -> ConversationPublic:
        """Raises ``ConversationNotFound``."""
        with self.session_factory() as session:
            conversation = session.scalars(
                select(Conversation)
                .where(Conversation.id == conversation_id)
                .options(selectinload(Conversation.messages))
            ).first()
            if conversation is None:
                raise ConversationNotFound(f"no conversation {conversation_id}")
            return ConversationPublic(
                id=conversation.id,
                title=conversation.title,
                created_at=conversation.created_at,
                updated_at=conversation.updated_at,
                messages=[MessagePublic.model_validate(m, from_attributes=True) for m in conversation.messages],
            )

    def delete(self, conversation_id: str) -> None:
        """Raises ``ConversationNotFound``."""
        with self.session_factory.begin() as session:
            conversation = session.get(Conversation, conversation_id)
            if conversation is None:
                raise ConversationNotFound(f"no conversation {conversation_id}")
            session.delete(conversation)
