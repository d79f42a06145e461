"""keyword vocabulary (SQLite): an fts5vocab view of the chunk index, for per-term chunk counts

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21

Long questions OR-ed into FTS5 scan every posting list; ``KeywordIndex`` keeps the rarest terms
(by this view's chunk counts), which carry most of BM25's weight anyway. PostgreSQL: nothing.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE chunks_fts_vocab USING fts5vocab(chunks_fts, 'row')")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TABLE IF EXISTS chunks_fts_vocab")
