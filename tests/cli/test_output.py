"""What the eskit command prints keeps secrets out."""

from __future__ import annotations

import pytest

from eskit.cli.serve import redacted

pytestmark = pytest.mark.unit


def test_printed_database_urls_hide_the_password() -> None:
    assert redacted("postgresql://app:s3cret@db:5432/bank") == "postgresql://app:***@db:5432/bank"
    assert redacted("sqlite:///eskit.db") == "sqlite:///eskit.db"
