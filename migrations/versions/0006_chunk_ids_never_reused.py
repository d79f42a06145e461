"""chunk ids are never reused (SQLite ``AUTOINCREMENT``)

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21

Without ``AUTOINCREMENT`` SQLite hands a deleted document's highest chunk ids to the next document.
The in-memory keyword index (``ingest.bm25``) follows the catalog by reading the rows above the
highest id it has seen, so ids must only grow, as PostgreSQL's sequences already make them.
SQLite cannot add the keyword to a table, so ``chunks`` is rebuilt (ids kept) and the triggers
that keep the full-text index in step, dropped with the old table, are created again.
PostgreSQL: nothing.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "context, text"
_TRIGGERS = [
    f"""CREATE TRIGGER chunks_fts_ai AFTER INSERT ON chunks BEGIN
        INSERT INTO chunks_fts(rowid, {_COLUMNS}) VALUES (new.id, new.context, new.text); END""",
    f"""CREATE TRIGGER chunks_fts_ad AFTER DELETE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, {_COLUMNS}) VALUES ('delete', old.id, old.context, old.text); END""",
    f"""CREATE TRIGGER chunks_fts_au AFTER UPDATE ON chunks BEGIN
        INSERT INTO chunks_fts(chunks_fts, rowid, {_COLUMNS}) VALUES ('delete', old.id, old.context, old.text);
        INSERT INTO chunks_fts(rowid, {_COLUMNS}) VALUES (new.id, new.context, new.text); END""",
]


def _rebuild(autoincrement: bool) -> None:
    with op.batch_alter_table("chunks", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}):
        pass
    for statement in _TRIGGERS:
        op.execute(statement)


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=True)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild(autoincrement=False)
