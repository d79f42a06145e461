"""document-level keyword index: stemmed term frequencies per document, and each document's length

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21

Documents ingested before this revision have ``term_count`` 0 and no prior in hybrid retrieval
until ``docent doctor --repair`` indexes their terms (from their chunk rows, without re-embedding).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("documents", sa.Column("term_count", sa.Integer(), server_default="0", nullable=False))
    op.create_table(
        "document_terms",
        sa.Column("document_id", sa.String(32), sa.ForeignKey("documents.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("term", sa.String(64), primary_key=True),
        sa.Column("collection_id", sa.Integer(), nullable=False),
        sa.Column("tf", sa.Integer(), nullable=False),
    )
    op.create_index("ix_document_terms_term", "document_terms", ["term", "collection_id"])


def downgrade() -> None:
    op.drop_index("ix_document_terms_term", table_name="document_terms")
    op.drop_table("document_terms")
    op.drop_column("documents", "term_count")
