"""The signed-webhook client of test_sendgrid_events.py, for every test of this folder."""

from tests.integrations.test_sendgrid_events import hook

__all__ = ["hook"]
