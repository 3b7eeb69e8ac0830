"""The agency policy: one row of numbers read by the SLA cadence (R-SLA-7) and by thank-you
review (R-TY-4). Import the module: ``from app.policy import service as policy``."""
