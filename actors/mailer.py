"""E-mail through SMTP (``[email]``): each message is sent by a greenlet of its own, so a request never
waits on the mail server (the rest of a password reset runs after its answer too:
``web.services.after_answer``). A failed delivery logs one line with the request id that caused it and
counts ``email.failed``; it is not retried.
"""
from __future__ import annotations

import logging
import smtplib
import ssl
from email.message import EmailMessage

from actors import runtime
from domain import logs
from domain.config import EmailConfig
from domain.metrics import Metrics

log = logging.getLogger("confab.email")


def _connect(config: EmailConfig) -> smtplib.SMTP:
    """An open, authenticated SMTP conversation as ``config`` describes it."""
    context = ssl.create_default_context()
    if config.security == "tls":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(config.host, config.port, timeout=config.timeout_s, context=context)
    else:
        smtp = smtplib.SMTP(config.host, config.port, timeout=config.timeout_s)
    try:
        if config.security == "starttls":
            smtp.starttls(context=context)
        if config.username:
            smtp.login(config.username, config.password)
    except BaseException:
        smtp.close()
        raise
    return smtp


def probe(config: EmailConfig) -> str | None:
    """Why ``config``'s server cannot be used (``check-config``), or None when it greets and accepts the login."""
    try:
        _connect(config).quit()
    except (OSError, smtplib.SMTPException) as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


class Mailer:
    def __init__(self, config: EmailConfig, metrics: Metrics) -> None:
        self._config, self._metrics = config, metrics

    @property
    def enabled(self) -> bool:
        return bool(self._config.host)

    def send(self, to: str, subject: str, body: str) -> None:
        """Queue one plain-text message to ``to``; returns at once."""
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self._config.from_address, to, subject
        message.set_content(body)
        if not self.enabled:
            logs.event(log, "email.disabled", logging.WARNING, subject=subject)
            return
        runtime.spawn(self._deliver, message, logs.current())

    def _deliver(self, message: EmailMessage, context: dict[str, str]) -> None:
        with logs.bound(**context):
            try:
                with _connect(self._config) as smtp:
                    smtp.send_message(message)
            except (OSError, smtplib.SMTPException) as exc:
                self._metrics.incr("email.failed")
                logs.event(log, "email.failed", logging.WARNING, subject=message["Subject"], error=repr(exc))
                return
            self._metrics.incr("email.sent")
