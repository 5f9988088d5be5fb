"""Fixtures for the pure triage tests: a typical policy, built here so tests need no files."""

from __future__ import annotations

import pytest

from triage.policy import Policy


@pytest.fixture(scope="session")
def policy() -> Policy:
    """The typical published targets: P1 1 working day, P2 5, P3 10 (seed 001, 003)."""
    return Policy.model_validate(
        {
            "name": "test standard",
            "nation": "england_and_wales",
            "priorities": {
                "P1": {"label": "high risk of harm", "first_contact": "1 working day"},
                "P2": {"label": "medium risk of harm", "first_contact": "5 working days"},
                "P3": {"label": "not ASB", "first_contact": "10 working days"},
            },
            "performance": {"homes": 10000},
        }
    )
