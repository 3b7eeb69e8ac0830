"""Integrations with the outside: inbound provider events, idempotency, outgoing webhooks."""
