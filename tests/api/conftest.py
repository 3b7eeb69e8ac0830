"""Fixtures the API-wide matrices share."""

from tests.api.test_bad_input import admin_and_ids

__all__ = ["admin_and_ids"]
