"""chunk sections: the heading path in force where a chunk starts (HTML, DOCX, Markdown)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("chunks", sa.Column("section", sa.Text(), server_default="", nullable=False))


def downgrade() -> None:
    op.drop_column("chunks", "section")
