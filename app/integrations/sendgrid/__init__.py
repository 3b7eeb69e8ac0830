"""Inbound SendGrid Event Webhook: what became of the emails we handed over (R-CAND-5, R-IN).

SendGrid cannot send an API key, so a batch is trusted only if its ECDSA signature (SendGrid's
signed event webhook) verifies over the timestamp header plus the *raw* body bytes, and that
timestamp is within five minutes of now (a captured request cannot be replayed later).

Each event names our message through the ``candor_message_id`` custom arg, which SendGrid echoes
as a top-level field. ``sg_event_id`` is the idempotency key: it is stored, unique, on the
message event it produced, so a batch SendGrid retries (or two racing deliveries of it) changes
each message once; the loser of a race gets the app's 409 and SendGrid retries it as duplicates.

Only delivery facts are stored; email bodies never, and addresses never reach the log.

``router`` is the endpoint, ``schemas`` what goes over the wire (headers, the batch, the result),
``service`` the verification and what each event changes.
"""
