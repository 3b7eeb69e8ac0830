"""Delivering the outbox: the worker's side of messaging (R-CAND, R-CP, R-TY-5).

Other domains write messages through ``app.messaging.outbox`` in their own transaction; the
registered sweepers (``app.messaging.background``) drain them through this package:

- ``claims``: claim due messages under a lease, chunk them per recipient, take them back fenced
  on the claim, save what was decided set-wise;
- ``context``: what a chunk knows about its submissions (one statement) and what a batch shares;
- ``compose``: which messages go together and the email they make (a digest, private links,
  the opt-out link, redacted for keeping);
- ``promises``: the date an email promises, kept, backed by a check, or broken (R-CAND-1);
- ``drain``: the candidates' drain (gate, send, record, retry with backoff; decision 0008);
- ``contacts``: the client contacts' drain (notes and nudges through the contact gate).
"""
