"""officer console: sign-in, sessions, action plans, blocks, and report indexes

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-28

Accounts and sessions for the console (``console_sessions``; lockout columns on ``officers``),
the agreed action plan and the block on ``cases``, and the indexes the monthly report and the
case page's transcript need.
Plain ``ALTER TABLE ... ADD/DROP COLUMN`` on both databases, as in 0002 (no batch copy of
``cases``).
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import storage.models

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
_WHEN = storage.models.UTCDateTime(timezone=True)
_OFFICER_COLUMNS = ("console_only", "failed_logins", "locked_until", "last_login_at")
_CASE_COLUMNS = ("block", "action_plan", "action_plan_agreed_at", "action_plan_agreed_by")


def upgrade() -> None:
    op.add_column(
        "officers",
        sa.Column("console_only", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column(
        "officers", sa.Column("failed_logins", sa.Integer(), server_default="0", nullable=False)
    )
    op.add_column("officers", sa.Column("locked_until", _WHEN, nullable=True))
    op.add_column("officers", sa.Column("last_login_at", _WHEN, nullable=True))
    op.add_column("cases", sa.Column("block", sa.String(length=100), nullable=True))
    op.add_column("cases", sa.Column("action_plan", sa.Text(), nullable=True))
    op.add_column("cases", sa.Column("action_plan_agreed_at", _WHEN, nullable=True))
    op.add_column("cases", sa.Column("action_plan_agreed_by", sa.String(length=64), nullable=True))
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(length=64), nullable=False),
        sa.Column("officer_id", sa.String(length=64), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("last_seen_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("ended_at", _WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["officer_id"],
            ["officers.id"],
            name=op.f("fk_console_sessions_officer_id_officers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_console_sessions")),
    )
    op.create_index(
        op.f("ix_console_sessions_officer_id"), "console_sessions", ["officer_id"], unique=False
    )
    op.create_index(
        "ix_survey_responses_answered", "survey_responses", ["answered_at"], unique=False
    )
    # The console's queue: counted and ordered from the index alone (open cases by first
    # contact and deadline, closed ones by closure).
    op.create_index(
        "ix_cases_queue",
        "cases",
        ["status", "first_contact_at", "deadline_at", "last_update_at", "id"],
        unique=False,
    )
    op.create_index("ix_cases_status_closed", "cases", ["status", "closed_at", "id"], unique=False)
    # A case's transcript is found by the reporter's channel and address (intake.casefile).
    op.create_index(
        "ix_inbound_messages_sender",
        "inbound_messages",
        ["channel", "sender", "received_at"],
        unique=False,
    )
    op.create_index(
        "ix_outbox_messages_identity_created",
        "outbox_messages",
        ["identity_id", "created_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_cases_status_closed", table_name="cases")
    op.drop_index("ix_cases_queue", table_name="cases")
    op.drop_index("ix_outbox_messages_identity_created", table_name="outbox_messages")
    op.drop_index("ix_inbound_messages_sender", table_name="inbound_messages")
    op.drop_index("ix_survey_responses_answered", table_name="survey_responses")
    op.drop_index(op.f("ix_console_sessions_officer_id"), table_name="console_sessions")
    op.drop_table("console_sessions")
    for column in reversed(_CASE_COLUMNS):
        op.drop_column("cases", column)
    for column in reversed(_OFFICER_COLUMNS):
        op.drop_column("officers", column)
