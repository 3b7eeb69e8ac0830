"""Production refuses to start with a secret that does not really key the API-key hashes: the
published default, a short one, or one of few distinct characters (R-IN, issue 11)."""

from __future__ import annotations

import secrets

import pytest
from pydantic import ValidationError

from app.core.settings import DEFAULT_SECRET, MIN_SECRET_DISTINCT, MIN_SECRET_LENGTH, Settings

#: 32 characters, 16 distinct: the smallest secret that is allowed.
SMALLEST = "0123456789abcdef" * 2


def production(secret: str) -> Settings:
    """Production with the ``file`` backend: ``console`` is refused there on its own (R-PV)."""
    return Settings(environment="production", secret_key=secret, email_backend="file")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        (DEFAULT_SECRET, "published development default"),
        (f" {DEFAULT_SECRET}\n", "published development default"),
        ("a" * 32, f"at least {MIN_SECRET_DISTINCT} distinct characters"),
        ("ab" * 64, f"at least {MIN_SECRET_DISTINCT} distinct characters"),
        ("0123456789abcde" + "0" * 17, f"at least {MIN_SECRET_DISTINCT} distinct"),  # 32, 15
        ("0123456789abcdefghijklmnopqrstu", f"at least {MIN_SECRET_LENGTH} characters"),  # 31
        ("", f"at least {MIN_SECRET_LENGTH} characters"),
    ],
)
def test_production_refuses_a_weak_secret__R_IN(secret: str, says: str) -> None:
    with pytest.raises(ValidationError) as raised:
        production(secret)
    message = str(raised.value)
    assert says in message
    if len(secret) >= 8:
        assert secret.strip() not in message  # the value itself is never echoed


@pytest.mark.parametrize("secret", [SMALLEST, secrets.token_urlsafe(48)])
def test_production_starts_with_a_random_secret__R_IN(secret: str) -> None:
    assert production(secret).secret_key.get_secret_value() == secret


def test_development_keeps_the_default__R_IN() -> None:
    assert Settings(environment="development").secret_key.get_secret_value() == DEFAULT_SECRET
