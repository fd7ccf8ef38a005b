"""Deployment settings read from the environment or ``.env`` (never from a committed file)."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite:///genebot.db"
SCHEMA_HEAD = "0004"  # the newest migration's revision (a test holds it to Alembic's head)


class DatabaseSettings(BaseSettings):
    """``DATABASE_URL`` chooses the database: SQLite by default, PostgreSQL in production
    (``postgresql+psycopg://user:password@host:5432/genebot``)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")
    database_url: str = DEFAULT_DATABASE_URL


def database_url() -> str:
    return DatabaseSettings().database_url
