"""A local stand-in for SendGrid's v3 Mail Send API, for tests, benchmarks and demos.

It lives outside ``app/`` so it is not installed with the product. Run it with
``CANDOR_SENDGRID_STANDIN_KEY=… python -m tools.sendgrid_standin --port 8090`` from the
repository root; the server itself is in ``tools/sendgrid_standin/server.py``.
"""

from tools.sendgrid_standin.server import (
    DEFAULT_PORT,
    KEY_ENV,
    MAX_MESSAGE_BYTES,
    AcceptedMail,
    SendGridStandIn,
    main,
    validate_mail_send,
)

__all__ = [
    "DEFAULT_PORT",
    "KEY_ENV",
    "MAX_MESSAGE_BYTES",
    "AcceptedMail",
    "SendGridStandIn",
    "main",
    "validate_mail_send",
]
