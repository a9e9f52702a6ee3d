"""Settings, from ``ESKIT_*`` environment variables or a ``.env`` file."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["EskitSettings"]


class EskitSettings(BaseSettings):
    """Where the events live and how the store behaves.

    ``ESKIT_DATABASE_URL``: ``sqlite:///relative.db``, ``sqlite:////absolute/path.db``,
    ``postgresql://user:pass@host/db`` (or ``postgresql://user@/db?host=/socket/dir``), or
    ``memory://``. Default: the SQLite file ``./eskit.db``.
    ``ESKIT_SQLITE_SYNCHRONOUS``: ``FULL`` (default, every commit is on disk) or ``NORMAL``
    (faster; a power cut may lose the last commits, never corrupt the file).
    ``ESKIT_PROJECTIONS``: ``module:attribute`` naming the application's projections (a
    list, or a function returning one), for ``eskit projections …``.
    """

    model_config = SettingsConfigDict(env_prefix="ESKIT_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///eskit.db"
    sqlite_synchronous: Literal["NORMAL", "FULL", "EXTRA"] = "FULL"
    snapshot_every: int | None = Field(default=None, ge=1)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    projections: str = ""

    def store_options(self) -> dict[str, object]:
        """Adapter options implied by these settings, for :func:`eskit.store.open_store`."""
        if self.database_url.startswith("sqlite"):
            return {"synchronous": self.sqlite_synchronous}
        return {}
