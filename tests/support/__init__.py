"""Helpers shared by more than one test folder: factories, a scenario agency, workers, real
servers (a ``candor serve``, a TCP proxy, the SendGrid stand-in's mailbox) and log capture.

A helper used by one folder stays in that folder; one that a second folder needs moves here, so
no test module imports another test module (issue 13).
"""
