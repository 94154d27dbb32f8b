"""The plain-text e-mails that carry a single-use code (a password reset, an address to verify)."""
from __future__ import annotations


def code_message(name: str, asked: str, route: str, fields: str, token: str, minutes: int) -> str:
    """``asked`` says what someone asked for; the code is to be sent to ``route`` with ``fields``."""
    return (f"Hello {name},\n\n{asked} Within {minutes} minutes, send this code to {route} ({fields}):\n\n"
            f"{token}\n\nIt works once. If you did not ask for this, ignore this message.\n")
