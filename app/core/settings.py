"""Settings come only from the environment (``CANDOR_*``), so one image runs everywhere."""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from fastapi import Depends, Request
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from app.core.database import DEFAULT_MAX_OVERFLOW, DEFAULT_POOL_SIZE

#: The development secret. Production refuses to start with it (see ``check_production``).
DEFAULT_SECRET = "candor-development-secret-change-me"  # noqa: S105 - a known, refused default
#: A production secret has at least this many characters ...
MIN_SECRET_LENGTH = 32
#: ... and at least this many distinct ones (32 x ``a`` is long, not random).
MIN_SECRET_DISTINCT = 16


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` cannot key production API-key hashes, or None if it can. Never the value."""
    if secret.strip() == DEFAULT_SECRET:
        return "is the published development default"
    if len(secret) < MIN_SECRET_LENGTH:
        return f"must be at least {MIN_SECRET_LENGTH} characters"
    if len(set(secret)) < MIN_SECRET_DISTINCT:
        return f"must have at least {MIN_SECRET_DISTINCT} distinct characters"
    return None


class Settings(BaseSettings):
    """Every knob of the service; the README's settings table lists the same fields."""

    model_config = SettingsConfigDict(env_prefix="CANDOR_", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./candor.db"
    secret_key: SecretStr = SecretStr(DEFAULT_SECRET)
    max_body_bytes: int = Field(default=1_048_576, ge=1024)
    #: How long a process remembers who a key belongs to (app.auth.cache): a revoked key stops
    #: at once on the process that revoked it and within this many seconds on every other.
    auth_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    #: PostgreSQL connections per process kept open, and how many more a burst may open
    #: (app.core.database): about the requests one process serves at once.
    db_pool_size: int = Field(default=DEFAULT_POOL_SIZE, ge=1, le=500)
    db_max_overflow: int = Field(default=DEFAULT_MAX_OVERFLOW, ge=0, le=500)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: str = "info"
    email_backend: Literal["console", "file", "sendgrid"] = "console"
    public_base_url: str = "http://127.0.0.1:8000"
    email_folder: str = "var/mail"
    email_from: str = "updates@agency.example"
    email_from_name: str = "Your recruitment team"
    sendgrid_api_key: SecretStr = SecretStr("")
    sendgrid_base_url: str = "https://api.sendgrid.com"
    sendgrid_sandbox: bool = False
    sendgrid_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    #: Base64 DER public key of SendGrid's signed Event Webhook (verifies incoming events).
    sendgrid_webhook_public_key: str = ""

    @model_validator(mode="after")
    def check_production(self) -> Settings:
        """R-PV / secrets: a production process with the published default secret must not run."""
        if self.environment == "production":
            problem = secret_problem(self.secret_key.get_secret_value())
            if problem is not None:
                raise ValueError(
                    f"CANDOR_SECRET_KEY {problem} when CANDOR_ENVIRONMENT=production; generate "
                    "one with: python3 -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
            if self.email_backend == "console":
                # R-PV: the console backend prints whole emails (names, links) into the logs.
                raise ValueError(
                    "CANDOR_EMAIL_BACKEND=console prints whole emails into the process output; "
                    "use sendgrid (or file) when CANDOR_ENVIRONMENT=production"
                )
            if self.email_backend == "sendgrid" and not self.sendgrid_api_key.get_secret_value():
                raise ValueError("CANDOR_SENDGRID_API_KEY must be set for the sendgrid backend")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()


def settings_of(request: Request) -> Settings:
    """The settings the running app was made with (``create_app(settings)``): the one place that
    reads them off the app. A dependency that already takes the request calls this instead of
    declaring ``SettingsDep``, one dependency fewer to solve per request (issue 14)."""
    settings: Settings = request.app.state.settings
    return settings


async def app_settings(request: Request) -> Settings:
    """``settings_of`` as a dependency. async: FastAPI runs a plain ``def`` dependency in its
    thread pool, a thread hop per request (issue 14)."""
    return settings_of(request)


#: An endpoint or dependency parameter ``settings: SettingsDep`` receives the app's settings.
SettingsDep = Annotated[Settings, Depends(app_settings)]
