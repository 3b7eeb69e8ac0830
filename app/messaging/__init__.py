"""Messaging: templates, the policy gate, the outbox, digests and delivery backends."""
