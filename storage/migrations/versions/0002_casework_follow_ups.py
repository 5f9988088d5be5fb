"""casework follow-ups: acknowledgements, updates, graffiti removal and satisfaction surveys

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21

The new case columns are plain nullable columns, added and dropped with ALTER TABLE on both
databases (SQLite 3.35+ drops columns natively). Batch mode is avoided on ``cases`` on purpose:
it would copy the table, and with foreign keys on, dropping the old copy cascades to incidents.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_CASE_COLUMNS = ("acknowledged_at", "acknowledged_by", "last_update_at", "graffiti_removed_at")


def upgrade() -> None:
    op.create_table(
        "survey_responses",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("case_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column(
            "identity_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True
        ),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("question", sa.String(length=20), nullable=False),
        sa.Column("asked_at", storage.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("answered_at", storage.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("answer_text", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["case_id"],
            ["cases.id"],
            name=op.f("fk_survey_responses_case_id_cases"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["identity_id"],
            ["channel_identities.id"],
            name=op.f("fk_survey_responses_identity_id_channel_identities"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_survey_responses")),
        sa.UniqueConstraint(
            "case_id", "question", name=op.f("uq_survey_responses_case_id_question")
        ),
    )
    op.create_index(
        "ix_survey_responses_identity_asked",
        "survey_responses",
        ["identity_id", "asked_at"],
        unique=False,
    )
    op.add_column(
        "cases",
        sa.Column("acknowledged_at", storage.models.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column("cases", sa.Column("acknowledged_by", sa.String(length=64), nullable=True))
    op.add_column(
        "cases",
        sa.Column("last_update_at", storage.models.UTCDateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "cases",
        sa.Column("graffiti_removed_at", storage.models.UTCDateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    for column in reversed(_CASE_COLUMNS):
        op.drop_column("cases", column)
    op.drop_index("ix_survey_responses_identity_asked", table_name="survey_responses")
    op.drop_table("survey_responses")
