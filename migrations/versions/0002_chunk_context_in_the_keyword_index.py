"""chunk context (file name, title) stored and keyword-indexed with each chunk

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

The keyword index is rebuilt over (context, text): SQLite's FTS5 table gets a second column and is
repopulated from the chunks table; PostgreSQL's generated tsvector covers both.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TOKENIZE = "tokenize='porter unicode61 remove_diacritics 2'"


def _sqlite_fts(columns: list[str]) -> list[str]:
    cols = ", ".join(columns)
    new = ", ".join(f"new.{c}" for c in columns)
    old = ", ".join(f"old.{c}" for c in columns)
    return [
        "DROP TRIGGER IF EXISTS chunks_fts_ai",
        "DROP TRIGGER IF EXISTS chunks_fts_ad",
        "DROP TRIGGER IF EXISTS chunks_fts_au",
        "DROP TABLE IF EXISTS chunks_fts",
        f"CREATE VIRTUAL TABLE chunks_fts USING fts5({cols}, content='chunks', content_rowid='id', {_TOKENIZE})",
        f"""CREATE TRIGGER chunks_fts_ai AFTER INSERT ON chunks BEGIN
            INSERT INTO chunks_fts(rowid, {cols}) VALUES (new.id, {new}); END""",
        f"""CREATE TRIGGER chunks_fts_ad AFTER DELETE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, {cols}) VALUES ('delete', old.id, {old}); END""",
        f"""CREATE TRIGGER chunks_fts_au AFTER UPDATE ON chunks BEGIN
            INSERT INTO chunks_fts(chunks_fts, rowid, {cols}) VALUES ('delete', old.id, {old});
            INSERT INTO chunks_fts(rowid, {cols}) VALUES (new.id, {new}); END""",
        "INSERT INTO chunks_fts(chunks_fts) VALUES ('rebuild')",
    ]


def _postgres_tsv(expression: str) -> list[str]:
    return [
        "DROP INDEX IF EXISTS ix_chunks_tsv",
        "ALTER TABLE chunks DROP COLUMN IF EXISTS tsv",
        f"ALTER TABLE chunks ADD COLUMN tsv tsvector GENERATED ALWAYS AS (to_tsvector('english', {expression})) STORED",
        "CREATE INDEX ix_chunks_tsv ON chunks USING GIN (tsv)",
    ]


def _run(statements: list[str]) -> None:
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.add_column("chunks", sa.Column("context", sa.Text(), server_default="", nullable=False))
    if op.get_bind().dialect.name == "sqlite":
        _run(_sqlite_fts(["context", "text"]))
    else:
        _run(_postgres_tsv("context || ' ' || text"))


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _run(_sqlite_fts(["text"]))
    else:
        _run(_postgres_tsv("text"))
    op.drop_column("chunks", "context")
