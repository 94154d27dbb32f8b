"""The plain-text e-mails that carry a single-use code (a password reset, an address to verify): a link
into the web UI (the code rides in the URL's fragment, which browsers never send to a server, so it stays
out of access logs and proxies), and the bare code on a line of its own for API clients."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class CodeMail:
    """What one kind of code is for: ``asked`` says what someone asked for, ``action`` what the link does,
    ``page`` is the UI's route for it (``reset``: ``#/reset/<code>``), and API clients send the code to
    ``route`` with ``fields``."""
    asked: str
    action: str
    page: str
    route: str
    fields: str


RESET = CodeMail("Someone (we hope you) asked to reset your Confab password.", "choose a new password",
                 "reset", "POST /api/v1/auth/password-reset/confirm", '{"token": "…", "password": "…"}')
VERIFY = CodeMail("Confirm that this address is yours to start using Confab.", "confirm it",
                  "verify", "POST /api/v1/auth/verify-email", '{"token": "…"}')


def ui_link(base_url: str, page: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/#/{page}/{token}"


def _duration(minutes: int) -> str:
    if minutes >= 60 and minutes % 60 == 0:
        hours = minutes // 60
        return "1 hour" if hours == 1 else f"{hours} hours"
    return "1 minute" if minutes == 1 else f"{minutes} minutes"


def code_message(kind: CodeMail, name: str, base_url: str, token: str, minutes: int) -> str:
    # no line starts with "From ": mail software rewrites such a line as ">From "
    return (f"Hello {name},\n\n{kind.asked} Within {_duration(minutes)}, open this link to {kind.action}:\n\n"
            f"{ui_link(base_url, kind.page, token)}\n\n"
            f"It works once. If you did not ask for this, ignore this message.\n\n"
            f"API clients send this code to {kind.route} ({kind.fields}):\n\n{token}\n")
