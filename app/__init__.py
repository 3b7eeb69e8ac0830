"""Candor: the candidate-communication backend of a staffing agency."""
