"""Database URLs, and the settings that name them."""

from pathlib import Path

import pytest

from eskit.errors import ConfigurationError
from eskit.settings import EskitSettings
from eskit.store.postgres import normalize_postgres_url
from eskit.store.urls import jetstream_location, open_store, sqlite_path

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


def test_a_nats_url_gives_the_server_the_store_name_and_the_options() -> None:
    assert jetstream_location("nats://127.0.0.1:4222/orders?duplicate_window_s=5&replicas=3") == (
        "nats://127.0.0.1:4222",
        "orders",
        {"duplicate_window_s": 5.0, "replicas": 3},
    )
    assert jetstream_location("nats://n1:4222") == ("nats://n1:4222", "eskit", {})


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("dupe_window=5", "unknown option 'dupe_window'"),
        ("timeout_s=soon", "timeout_s in .* must be a number"),
        ("replicas=1.5", "replicas in .* must be a whole number"),
    ],
)
def test_a_nats_url_with_an_unusable_option_is_a_configuration_error(
    query: str, named: str
) -> None:
    with pytest.raises(ConfigurationError, match=named):
        jetstream_location(f"nats://127.0.0.1:4222/orders?{query}")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("duplicate_window_s=0", "duplicate_window_s .* positive number of seconds, got 0.0"),
        ("duplicate_window_s=-1", "duplicate_window_s .* positive number of seconds"),
        ("timeout_s=nan", "timeout_s .* positive number of seconds, got nan"),
        ("connect_timeout_s=-1", "connect_timeout_s .* positive number of seconds"),
        ("replicas=0", "replicas .* whole number >= 1, got 0"),
    ],
)
async def test_a_nats_store_refuses_an_unusable_option_before_connecting(
    query: str, named: str
) -> None:
    # port 9 (discard) never runs a NATS server: the option is refused before any I/O
    with pytest.raises(ConfigurationError, match=named):
        async with open_store(f"nats://127.0.0.1:9/orders?{query}"):
            pass
