"""Business time (R-BT) and call windows (R-CALL): pure functions, no database, no I/O.

Import the module, not its names: ``from app.calendar import business_time``.
"""
