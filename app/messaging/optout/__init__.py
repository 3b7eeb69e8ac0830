"""The opt-out link in every status email (R-CAND-5): no account, no key, one click to confirm."""
