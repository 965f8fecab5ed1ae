"""The Airflow notifiers callops' alerts are delivered through (callops.alerts builds the alert and its text).

- :class:`WebhookNotifier`, a ``BaseNotifier``: POSTs the alert as JSON to a webhook URL;
- :class:`MailNotifier`, providers-smtp's ``SmtpNotifier``: mails the alert through Airflow's SMTP
  connection (``[email] email_conn_id``, ``smtp_default``). Where none is configured, the connection is
  built from Airflow's ``[smtp]`` settings in the environment (``AIRFLOW__SMTP__SMTP_HOST`` ...), with
  the defaults callops has always used for them (:func:`smtp_connection_from_settings`).

callops calls them directly (``notifier.notify(context)``): the alert's text is sent as it is, never
rendered as a Jinja template (an alert can quote a dbt error that contains ``{{ }}``). Each raises
when it cannot deliver; callops.alerts logs that and goes on.
"""

from __future__ import annotations

import html
import json
import os
import urllib.request
from collections.abc import Mapping
from functools import cached_property
from typing import Any

from airflow.providers.smtp.hooks.smtp import SmtpHook
from airflow.providers.smtp.notifications.smtp import SmtpNotifier
from airflow.sdk import BaseNotifier, Connection
from airflow.sdk.exceptions import AirflowNotFoundException

WEBHOOK_TIMEOUT_SECONDS = 10
SMTP_TIMEOUT_SECONDS = 10
MAIL_FROM = "callops@localhost"


class WebhookNotifier(BaseNotifier):
    """POSTs ``payload`` as JSON to ``url`` (``text`` suits Slack and Mattermost incoming webhooks)."""

    template_fields = ()  # the payload is callops' alert, never a template

    def __init__(self, url: str, payload: Mapping[str, Any], timeout_seconds: float = WEBHOOK_TIMEOUT_SECONDS):
        super().__init__()
        self.url = url
        self.payload = payload
        self.timeout_seconds = timeout_seconds
        self.status: int | None = None

    def notify(self, context) -> None:
        request = urllib.request.Request(
            self.url,
            data=json.dumps(self.payload, default=str).encode("utf-8"),
            headers={"Content-Type": "application/json", "User-Agent": "callops-alerts"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=self.timeout_seconds) as response:
            self.status = response.status


def _setting(name: str, default: str | None = None) -> str | None:
    """Airflow's ``[smtp] smtp_<name>`` as the environment sets it (AIRFLOW__SMTP__SMTP_<NAME>)."""
    return os.environ.get(f"AIRFLOW__SMTP__SMTP_{name}") or default


def smtp_connection_from_settings(conn_id: str) -> Connection:
    """An SMTP connection from Airflow's ``[smtp]`` settings in the environment: host (localhost), port
    (25), STARTTLS and SSL (both off unless "true"), user and password, sender (callops@localhost),
    timeout (10 s) and retry limit (0: one attempt)."""
    extra = {
        "from_email": _setting("MAIL_FROM", MAIL_FROM),
        "disable_ssl": _setting("SSL", "false").lower() != "true",
        "disable_tls": _setting("STARTTLS", "false").lower() != "true",
        "timeout": int(_setting("TIMEOUT", str(SMTP_TIMEOUT_SECONDS))),
        "retry_limit": int(_setting("RETRY_LIMIT", "0")),
    }
    return Connection(
        conn_id=conn_id,
        conn_type="smtp",
        host=_setting("HOST", "localhost"),
        port=int(_setting("PORT", "25")),
        login=_setting("USER"),
        password=_setting("PASSWORD"),
        extra=json.dumps(extra),
    )


class _SmtpHook(SmtpHook):
    """SmtpHook whose connection, when none is configured, comes from the ``[smtp]`` settings."""

    @classmethod
    def get_connection(cls, conn_id: str) -> Connection:
        try:
            return super().get_connection(conn_id)
        except AirflowNotFoundException:
            return smtp_connection_from_settings(conn_id)


class MailNotifier(SmtpNotifier):
    """SmtpNotifier for one alert: ``subject`` and ``body`` are callops' own text, sent in a ``<pre>``
    block (SmtpHook sends HTML); the sender is the connection's ``from_email``, else
    AIRFLOW__SMTP__SMTP_MAIL_FROM, else callops@localhost."""

    template_fields = ()  # callops' text, never a template

    def __init__(self, to: str, subject: str, body: str, **kwargs):
        super().__init__(
            to=to,
            subject=subject,
            html_content=f"<pre>{html.escape(body, quote=False)}</pre>",
            **kwargs,
        )

    @cached_property
    def hook(self) -> SmtpHook:
        return _SmtpHook(smtp_conn_id=self.smtp_conn_id, auth_type=self.auth_type)

    def _build_email_content(self, smtp: SmtpHook, context) -> None:
        # set here, SmtpNotifier would render the sender as a template
        if self.from_email is None:
            self.from_email = smtp.from_email or _setting("MAIL_FROM", MAIL_FROM)
        super()._build_email_content(smtp, context)
