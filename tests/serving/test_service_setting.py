"""The service a process serves is named by ``module:attribute``; a bad name says what is wrong."""

from __future__ import annotations

import pytest

from eskit.errors import ConfigurationError
from eskit.serving import load_service

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("no-colon", "expected 'module:attribute'"),
        ("nowhere.at.all:service", "cannot import nowhere.at.all"),
        ("tests.wallets.domain:registry", "is not an eskit Service"),
    ],
)
def test_a_bad_service_setting_says_what_is_wrong(spec: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message):
        load_service(spec)
