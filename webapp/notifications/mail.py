"""Sending email through the configured SMTP server (SDM_SMTP_*)."""

from __future__ import annotations

import smtplib
import ssl
from email.message import EmailMessage

from flask import current_app


class MailFailed(Exception):
    """The SMTP server could not be reached or refused the message."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


def configured() -> bool:
    """Tell whether an SMTP server is configured."""
    return bool(current_app.config.get("SMTP_HOST"))


def send(to: str, subject: str, body: str) -> None:
    """Send a plain-text email; raise MailFailed with a reason a person can act on."""
    config = current_app.config
    message = EmailMessage()
    message["From"] = config["SMTP_FROM"]
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    security = config["SMTP_SECURITY"]
    host, port = config["SMTP_HOST"], int(config["SMTP_PORT"])
    try:
        if security == "ssl":
            smtp = smtplib.SMTP_SSL(host, port, timeout=15,
                                    context=ssl.create_default_context())
        else:
            smtp = smtplib.SMTP(host, port, timeout=15)
        with smtp:
            if security == "starttls":
                smtp.starttls(context=ssl.create_default_context())
            if config.get("SMTP_USERNAME"):
                smtp.login(config["SMTP_USERNAME"], config.get("SMTP_PASSWORD") or "")
            smtp.send_message(message)
    except smtplib.SMTPResponseException as exc:
        raise MailFailed(f"The mail server refused the message ({exc.smtp_code}).",
                         exc.smtp_code) from None
    except (smtplib.SMTPException, OSError) as exc:
        raise MailFailed(f"The mail server {host}:{port} could not be reached "
                         f"({exc.__class__.__name__}).") from None
