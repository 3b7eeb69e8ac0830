"""``python -m tools.sendgrid_standin --port 8090``: serve the stand-in in the foreground."""

from tools.sendgrid_standin.server import main

raise SystemExit(main())
