"""Alerts name the DAG, task, tenant, delivery day, file and failed check, and reach a webhook
(a local HTTP server here), an SMTP server and alerts.jsonl without ever failing the callback."""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import html
import json
import os
import socketserver
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from types import SimpleNamespace

import pytest

from callops import alerts, pipeline, scheduling, settings, tasks, warehouse
from tests.conftest import deliver

HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,hold_seconds,after_call_work_seconds\n"


@pytest.fixture
def webhook(monkeypatch) -> Iterator[list[dict]]:
    """A local HTTP server collecting the JSON bodies POSTed to it; CALLOPS_ALERT_WEBHOOK_URL points there."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's name
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append({"content_type": self.headers["Content-Type"], **json.loads(body)})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv(settings.ALERT_WEBHOOK_URL_ENV, f"http://127.0.0.1:{server.server_port}/hooks/callops")
    yield received
    server.shutdown()


def context(dag_id: str, task_id: str, exception: Exception, run_id: str = "scheduled__2026-03-02T02:00:00+00:00"):
    ti = SimpleNamespace(task_id=task_id, dag_id=dag_id, try_number=1, log_url=f"http://127.0.0.1:8080/dags/{dag_id}")
    return {
        "dag": SimpleNamespace(dag_id=dag_id),
        "ti": ti,
        "run_id": run_id,
        "dag_run": SimpleNamespace(conf={}),
        "exception": exception,
    }


def test_a_failed_load_check_names_tenant_day_file_and_rule_at_the_webhook(home, webhook):
    from airflow.sdk.exceptions import AirflowFailException

    deliver(home, "acme_unknown", "2026-03-02", "contacts.csv", HEADER + "x1,q,2026-03-02 09:00:00,answered,1,1,0,0\n")
    deliver(
        home,
        "shanghai_bank",
        "2026-03-02",
        "late.csv",
        HEADER + "e1,cards,2026-03-02 10:00:00,answered,1,50,0,10\ne2,cards,not-a-time,answered,1,50,0,10\n",
    )
    run = "load_landing__scheduled__2026-03-02T02:00:00+00:00__telephony"
    summary = pipeline.load_selected(run, [f.delivery() for f in scheduling.landing_files()])
    with pytest.raises(AirflowFailException) as failed:
        tasks.check_load(summary)

    alerts.on_failure(context("load_landing", "telephony.check", failed.value))

    (alert,) = webhook
    assert alert["content_type"] == "application/json"
    assert (alert["dag_id"], alert["task_id"], alert["kind"]) == ("load_landing", "telephony.check", "task_failed")
    assert [(f["tenant"], f["day"], f["file"], f["check"]) for f in alert["failures"]] == [
        (
            "acme_unknown",
            "2026-03-02",
            "landing/telephony/acme_unknown/2026-03-02/contacts.csv",
            "tenant 'acme_unknown' is not in callops.yml (configured: shanghai_bank, stockholm_telco, variant_tenant)",
        ),
        (
            "shanghai_bank",
            "2026-03-02",
            "landing/telephony/shanghai_bank/2026-03-02/late.csv",
            "delivery gate: reject_threshold",
        ),
    ]
    assert (alert["tenant"], alert["day"], alert["file"]) == (
        "acme_unknown", "2026-03-02", "landing/telephony/acme_unknown/2026-03-02/contacts.csv"
    )
    assert alert["text"].splitlines()[0] == "callops: load_landing.telephony.check failed"
    assert "tenant shanghai_bank, day 2026-03-02, file landing/telephony/shanghai_bank/2026-03-02/late.csv, " \
           "check delivery gate: reject_threshold" in alert["text"]
    assert alert["log_url"].startswith("http://127.0.0.1:8080/")
    # The same alert is on file.
    recorded = [json.loads(line) for line in (settings.alerts_dir() / "alerts.jsonl").read_text().splitlines()]
    assert [a["failures"] for a in recorded] == [alert["failures"]]


def test_a_blocking_gate_check_and_a_dbt_test_are_named_with_tenant_and_day(home, webhook):
    from airflow.sdk.exceptions import AirflowFailException

    run = "build_warehouse__manual__2026-03-03T08:00:00+00:00"
    with warehouse.session() as con:
        con.execute(
            "insert into ops.check_results values (?, 'rpt_daily_kpis', 'expect_column_values_to_be_between', "
            "'service_level_rate', 'blocking', false, 1, ['stockholm_telco 2026-03-02'], 'rates are 0-1', now(), "
            "'stockholm_telco', 'great_expectations')",
            [run],
        )
        con.execute(
            "insert into ops.run_steps values (?, 'build', 'failed', now(), ?)",
            [run, json.dumps({"success": False, "failures": ["test not_null_fct_x_id: fail (got 2 results)"]})],
        )
    error = AirflowFailException("run failed: dbt build failed (see the build step); nothing published")
    alerts.on_failure(context("build_warehouse", "finish", error, run_id="manual__2026-03-03T08:00:00+00:00"))

    (alert,) = webhook
    assert [(f["tenant"], f["day"], f["check"]) for f in alert["failures"]] == [
        ("stockholm_telco", "2026-03-02", "rpt_daily_kpis: expect_column_values_to_be_between on service_level_rate"),
        (None, None, "dbt test not_null_fct_x_id: fail"),
    ]
    assert alert["callops_run_id"] == run


def test_a_missing_delivery_names_tenant_day_folder_and_the_arrival_check(home, webhook):
    from airflow.sdk.exceptions import AirflowSensorTimeout

    error = AirflowSensorTimeout(
        "no telephony delivery from tenant shanghai_bank for delivery day 2026-03-01: nothing arrived in "
        "landing/telephony/shanghai_bank/2026-03-01/ by 2026-03-02 08:00 Asia/Shanghai (check delivery_arrived)"
    )
    alerts.on_failure(context("load_telephony__shanghai_bank", "wait_for_delivery", error))
    (alert,) = webhook
    assert (alert["tenant"], alert["day"], alert["file"], alert["check"]) == (
        "shanghai_bank", "2026-03-01", "landing/telephony/shanghai_bank/2026-03-01", "delivery_arrived"
    )


def test_an_unreachable_webhook_never_fails_the_callback(home, monkeypatch, caplog):
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv(settings.ALERT_WEBHOOK_URL_ENV, "http://127.0.0.1:9/unreachable")
    alerts.on_failure(context("load_landing", "qa.load", AirflowFailException("landing/qa/x/2026-03-01/f.csv: broken")))
    (recorded,) = [json.loads(line) for line in (settings.alerts_dir() / "alerts.jsonl").read_text().splitlines()]
    assert (recorded["tenant"], recorded["file"]) == ("x", "landing/qa/x/2026-03-01/f.csv")
    assert "webhook POST failed" in caplog.text
    # Nothing at all to go on (no context) still logs an alert rather than raising.
    alerts.on_failure({})


def test_a_task_that_sent_its_own_alerts_is_not_alerted_twice(home, webhook):
    from airflow.sdk.exceptions import AirflowFailException

    with pytest.raises(AirflowFailException) as failed:
        tasks._fail("publish deadline missed: ...", alerted=True)
    alerts.on_failure(context("publish_deadline_watch", "check_deadlines", failed.value))
    assert webhook == []


class SMTPHandler(socketserver.StreamRequestHandler):
    """Just enough SMTP for smtplib: each mail's envelope sender, recipients and data go to ``server.mails``."""

    def handle(self):
        self.wfile.write(b"220 test ESMTP\r\n")
        envelope = {"from": None, "to": []}
        while line := self.rfile.readline():
            verb = line.strip().split(b" ")[0].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go ahead\r\n")
                body = b""
                while (chunk := self.rfile.readline()) != b".\r\n":
                    body += chunk
                self.server.mails.append({**envelope, "data": body})
                envelope = {"from": None, "to": []}
                self.wfile.write(b"250 queued\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                if verb == b"MAIL":
                    envelope["from"] = line.split(b":", 1)[1].strip().decode()
                elif verb == b"RCPT":
                    envelope["to"].append(line.split(b":", 1)[1].strip().decode())
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp(monkeypatch) -> Iterator[list[dict]]:
    """A local SMTP server; Airflow's [smtp] settings (AIRFLOW__SMTP__*) point there, and no SMTP
    connection is configured. Yields the mails it received."""
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SMTPHandler)
    server.mails = []
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("AIRFLOW__SMTP__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__SMTP__SMTP_PORT", str(server.server_address[1]))
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    yield server.mails
    server.shutdown()
    server.server_close()


def html_part(raw: bytes) -> tuple[email.message.EmailMessage, str]:
    """The mail, and the text of its HTML part's <pre> block as a reader sees it (unescaped)."""
    mail = email.message_from_bytes(raw, policy=email.policy.default)
    content = mail.get_body(preferencelist=("html",)).get_content()
    assert content.startswith("<pre>") and content.endswith("</pre>"), content[:200]
    return mail, html.unescape(content[len("<pre>"):-len("</pre>")])


def test_deadline_alerts_are_mailed_through_smtp(home, monkeypatch, smtp):
    monkeypatch.setenv(settings.ALERT_EMAIL_ENV, "ops@example.com")
    alert = alerts.deadline_alert(
        "shanghai_bank", dt.date(2026, 3, 1), "08:00 Asia/Shanghai", "no delivery of that day was loaded"
    )
    delivered = alerts.send(alert)
    assert delivered["email"] == "sent to ops@example.com"
    (sent,) = smtp
    mail = email.message_from_bytes(sent["data"], policy=email.policy.default)
    assert mail["To"] == "ops@example.com"
    assert mail["Subject"].startswith(
        "callops deadline missed: tenant shanghai_bank, day 2026-03-01 not published by 08:00"
    )
    assert '"check": "publish_deadline"' in mail.get_body().get_content()


def test_mail_goes_through_the_smtp_notifier_with_callops_text_and_the_smtp_settings(home, monkeypatch, smtp):
    """providers-smtp's SmtpNotifier sends it (its MIME shape: the HTML part of a multipart mail), over a
    connection built from AIRFLOW__SMTP__*: the subject is the alert's first line, the body callops' own
    text and JSON exactly, never rendered as a template ({{ }} of a dbt error stays as it is)."""
    from airflow.providers.smtp.notifications.smtp import SmtpNotifier
    from airflow.sdk.exceptions import AirflowFailException

    from callops import notifiers

    monkeypatch.setenv(settings.ALERT_EMAIL_ENV, "ops@example.com, lead@example.com")
    monkeypatch.setenv("AIRFLOW__SMTP__SMTP_MAIL_FROM", "alerts@callops.example")
    error = AirflowFailException(
        "run failed: dbt build failed: model stg_x (compilation: {{ ref('missing') }} <no node>); nothing published"
    )
    alerts.on_failure(context("build_warehouse", "finish", error, run_id="manual__2026-03-03T08:00:00+00:00"))

    (sent,) = smtp
    (alert,) = [json.loads(line) for line in (settings.alerts_dir() / "alerts.jsonl").read_text().splitlines()]
    mail, body = html_part(sent["data"])
    assert mail.get_content_type() == "multipart/mixed"  # SmtpHook's message, not a hand-built one
    assert issubclass(notifiers.MailNotifier, SmtpNotifier)
    assert mail["Subject"] == alert["text"].splitlines()[0] == "callops: build_warehouse.finish failed"
    assert body == alert["text"] + "\n\n" + json.dumps(alert, indent=2, default=str)
    assert "{{ ref('missing') }} <no node>" in body
    assert mail["From"] == sent["from"].strip("<>") == "alerts@callops.example"
    assert mail["To"] == "ops@example.com, lead@example.com"
    assert sorted(to.strip("<>") for to in sent["to"]) == ["lead@example.com", "ops@example.com"]


def test_a_configured_smtp_connection_wins_over_the_smtp_settings(home, monkeypatch, smtp):
    """Airflow's smtp_default connection (here from AIRFLOW_CONN_SMTP_DEFAULT), with its sender, is used
    as it is; the [smtp] settings, pointing nowhere, are not."""
    port = os.environ["AIRFLOW__SMTP__SMTP_PORT"]
    monkeypatch.setenv("AIRFLOW__SMTP__SMTP_PORT", "9")  # discard: nothing listens
    monkeypatch.setenv(
        "AIRFLOW_CONN_SMTP_DEFAULT",
        json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": int(port),
            "extra": {"from_email": "noc@example.com", "disable_ssl": True, "disable_tls": True, "retry_limit": 0},
        }),
    )
    monkeypatch.setenv(settings.ALERT_EMAIL_ENV, "ops@example.com")
    alert = alerts.deadline_alert("stockholm_telco", dt.date(2026, 3, 1), "08:00 Europe/Stockholm", "late")
    assert alerts.send(alert)["email"] == "sent to ops@example.com"
    (sent,) = smtp
    mail, body = html_part(sent["data"])
    assert mail["From"] == "noc@example.com"
    assert body.startswith("callops deadline missed: tenant stockholm_telco, day 2026-03-01")


def test_an_unreachable_mail_server_never_fails_the_callback(home, monkeypatch, caplog):
    from airflow.sdk.exceptions import AirflowFailException

    monkeypatch.setenv(settings.ALERT_EMAIL_ENV, "ops@example.com")
    monkeypatch.setenv("AIRFLOW__SMTP__SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("AIRFLOW__SMTP__SMTP_PORT", "9")
    monkeypatch.delenv("AIRFLOW_CONN_SMTP_DEFAULT", raising=False)
    alerts.on_failure(context("load_landing", "qa.load", AirflowFailException("landing/qa/x/2026-03-01/f.csv: broken")))
    (recorded,) = [json.loads(line) for line in (settings.alerts_dir() / "alerts.jsonl").read_text().splitlines()]
    assert recorded["file"] == "landing/qa/x/2026-03-01/f.csv"
    assert "e-mail to ops@example.com failed" in caplog.text


def test_the_webhook_goes_through_a_base_notifier_with_the_alert_as_is(home, webhook):
    """callops.notifiers.WebhookNotifier is an Airflow notifier: called directly, or the way Airflow calls
    a callback (which renders template fields), it POSTs the alert exactly as alerts.jsonl has it."""
    from airflow.sdk import DAG, BaseNotifier
    from airflow.sdk.exceptions import AirflowFailException

    from callops import notifiers

    error = AirflowFailException("landing/telephony/shanghai_bank/2026-03-02/a.csv: header {{ not a template }}")
    alerts.on_failure(context("load_landing", "telephony.load", error))
    (recorded,) = [json.loads(line) for line in (settings.alerts_dir() / "alerts.jsonl").read_text().splitlines()]
    (posted,) = webhook
    assert {k: v for k, v in posted.items() if k != "content_type"} == recorded
    assert "{{ not a template }}" in posted["text"]

    url = os.environ[settings.ALERT_WEBHOOK_URL_ENV]
    notifier = notifiers.WebhookNotifier(url, recorded)
    assert isinstance(notifier, BaseNotifier)
    called = {**context("load_landing", "telephony.load", error), "dag": DAG("load_landing", schedule=None)}
    notifier(called)  # as Airflow calls an on_failure_callback: template fields rendered first
    assert webhook[1] == posted and notifier.status == 204


def test_the_smtp_settings_make_the_connection_when_none_is_configured(monkeypatch):
    """AIRFLOW__SMTP__* as callops documents them, read by SmtpHook from the connection built of them;
    unset, callops' defaults (localhost:25, no TLS, callops@localhost, 10 s, one attempt)."""
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    from callops import notifiers

    def hook() -> SmtpHook:
        built = SmtpHook()
        built.smtp_connection = notifiers.smtp_connection_from_settings("smtp_default")
        return built

    for name in ("HOST", "PORT", "STARTTLS", "SSL", "USER", "PASSWORD", "MAIL_FROM", "TIMEOUT", "RETRY_LIMIT"):
        monkeypatch.delenv(f"AIRFLOW__SMTP__SMTP_{name}", raising=False)
    defaults = hook()
    assert (defaults.host, defaults.port, defaults.smtp_starttls, defaults.use_ssl) == ("localhost", 25, False, False)
    assert (defaults.smtp_user, defaults.smtp_password, defaults.from_email) == ("", "", "callops@localhost")
    assert (defaults.timeout, defaults.smtp_retry_limit) == (10, 0)

    for name, value in {
        "HOST": "smtp.example.com", "PORT": "587", "STARTTLS": "True", "USER": "callops", "PASSWORD": "s3cret",
        "MAIL_FROM": "alerts@example.com", "TIMEOUT": "30",
    }.items():
        monkeypatch.setenv(f"AIRFLOW__SMTP__SMTP_{name}", value)
    tls = hook()
    assert (tls.host, tls.port, tls.smtp_starttls, tls.use_ssl) == ("smtp.example.com", 587, True, False)
    assert (tls.smtp_user, tls.smtp_password, tls.from_email, tls.timeout) == (
        "callops", "s3cret", "alerts@example.com", 30
    )
    monkeypatch.setenv("AIRFLOW__SMTP__SMTP_SSL", "true")
    assert hook().use_ssl is True
