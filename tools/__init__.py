"""Development tools that are not part of the product: never installed in the wheel.

``app/`` never imports from here (``tests/test_layout.py`` checks it); tools and tests may
import ``app``.
"""
