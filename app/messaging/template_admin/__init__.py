"""Admins reword the candidate email's sections; anyone who can see a submission previews its
email (``/v1/templates``). The packaged wording itself is ``app/messaging/templates/``."""
