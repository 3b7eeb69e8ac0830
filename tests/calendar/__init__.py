"""Tests for app.calendar: business time (R-BT) and call windows (R-CALL)."""
