"""Feedback requests (R-FB): a candidate asks, through their private link, what the client
thought; the recruiter answers with a summary they approve, or declines."""
