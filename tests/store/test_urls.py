"""Database URLs, and the settings that name them."""

from pathlib import Path

import pytest

from eskit.errors import ConfigurationError
from eskit.settings import EskitSettings
from eskit.store.postgres import normalize_postgres_url
from eskit.store.urls import open_store, sqlite_path

pytestmark = pytest.mark.unit


def test_sqlite_urls_follow_sqlalchemy() -> None:
    assert sqlite_path("sqlite:///relative.db") == Path("relative.db")
    assert sqlite_path("sqlite:////absolute/path.db") == Path("/absolute/path.db")


def test_a_sqlite_url_without_a_file_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="memory://"):
        sqlite_path("sqlite:///:memory:")


def test_postgres_urls_accept_the_common_spellings_and_unix_sockets() -> None:
    socket_url = "postgresql://postgres:@/postgres?host=/tmp/x"
    assert normalize_postgres_url(socket_url) == socket_url
    assert normalize_postgres_url("postgres://u@h/db") == "postgresql://u@h/db"
    assert normalize_postgres_url("postgresql+psycopg://u@h/db") == "postgresql://u@h/db"


async def test_an_unsupported_scheme_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="unsupported database URL"):
        async with open_store("mysql://x/y"):
            pass


def test_settings_default_to_a_sqlite_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ESKIT_DATABASE_URL", raising=False)
    assert EskitSettings().database_url == "sqlite:///eskit.db"


def test_settings_read_the_environment_and_a_dotenv_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ESKIT_DATABASE_URL", raising=False)
    (tmp_path / ".env").write_text("ESKIT_DATABASE_URL=sqlite:///from-dotenv.db\n")
    assert EskitSettings().database_url == "sqlite:///from-dotenv.db"
    monkeypatch.setenv("ESKIT_DATABASE_URL", "postgresql://u@h/db")
    assert EskitSettings().database_url == "postgresql://u@h/db"
