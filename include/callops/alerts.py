"""Alerts: what failed, for whom, in words a data engineer can act on.

Every callops DAG has :func:`on_failure` as its tasks' failure callback (``default_args``), and the
deadline watch raises :func:`deadline_alert`\\ s. An alert names the DAG and task, and each failure's
tenant, delivery day, file and failed check, taken from the run's ops tables (files that failed or
were held back, blocking gate checks) and from the exception's text (landing paths, dbt nodes). It is

- logged (logger ``callops.alerts``, so it is in the task log) and appended to
  ``CALLOPS_HOME/alerts/alerts.jsonl``;
- POSTed as JSON to ``CALLOPS_ALERT_WEBHOOK_URL`` when set (the ``text`` field suits Slack and
  Mattermost incoming webhooks; the rest is structured), through a ``BaseNotifier``;
- e-mailed to ``CALLOPS_ALERT_EMAIL`` (comma-separated) when set, through providers-smtp's
  ``SmtpNotifier``: Airflow's SMTP connection (``smtp_default``), or one built from Airflow's
  ``[smtp]`` settings (``AIRFLOW__SMTP__SMTP_HOST`` ...) where none is configured.

The notifiers are in callops.notifiers (imported when an alert is sent: Airflow loads only then).
Service alerts (``kind`` service, service_recovered; built by callops.service_alerts after a publish)
go the same way, and to their tenant's own webhook besides; they are logged as warnings, not errors.

A callback must never fail the task a second time: every delivery problem is logged and swallowed.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Mapping, Sequence
from typing import Any

from callops import runs, settings

log = logging.getLogger("callops.alerts")

LOCK_WAIT_SECONDS = 60  # how long the callback waits for the warehouse to read the run's details
MAX_FAILURES = 50
LANDING_PATH = re.compile(
    r"landing/(?P<feed>[a-z][a-z0-9_]*)/(?P<tenant>[a-z][a-z0-9_]*)/(?P<day>\d{4}-\d{2}-\d{2})/(?P<name>[^\s:;,)]*)"
)
HELD_RULE = re.compile(r"rule (?P<rule>[a-z_]+)\)")


def _failure(tenant=None, day=None, file=None, check=None, message=None) -> dict:
    return {
        "tenant": tenant,
        "day": day.isoformat() if isinstance(day, dt.date) else day,
        "file": file,
        "check": check,
        "message": message,
    }


# --- what failed ----------------------------------------------------------------------------------


def file_check(action: str, message: str | None, display: str) -> str:
    """The rule a failed or held-back file broke, as its message states it."""
    text = message or ""
    if action == "held":
        rule = HELD_RULE.search(text)
        return f"delivery gate: {rule.group('rule') if rule else 'reject_threshold'}"
    rule = text.split(f"{display}: ", 1)[-1]
    return rule.split(" (the previously loaded")[0].strip() or "file could not be loaded"


def failures_from_ops(run_prefix: str) -> list[dict]:
    """Files that failed or were held back, and blocking gate checks, of the callops runs whose id
    starts with ``run_prefix`` (a DAG run may record several: the landing watch, one per feed)."""
    from callops import warehouse

    if not settings.build_db_path().exists():
        return []
    found: list[dict] = []
    with warehouse.writer_lock(wait_seconds=LOCK_WAIT_SECONDS), warehouse.connection(read_only=True) as con:
        for tenant, day, feed, name, action, message in con.execute(
            "select tenant_id, delivery_date, feed, file_name, action, message from ops.run_files "
            "where starts_with(run_id, ?) and action in ('failed', 'held') "
            "order by delivery_date, tenant_id, file_name",
            [run_prefix],
        ).fetchall():
            display = f"landing/{feed}/{tenant}/{day.isoformat()}/{name}"
            found.append(_failure(tenant, day, display, file_check(action, message, display), message))
        for table, check, column, keys, notes, owner in con.execute(
            "select table_name, check_name, column_name, failing_keys, notes, tenant_id from ops.check_results "
            "where starts_with(run_id, ?) and not success and severity = 'blocking' "
            "order by table_name, check_name, tenant_id",
            [run_prefix],
        ).fetchall():
            name = f"{table}: {check}" + (f" on {column}" if column else "")
            for key in keys or [None]:
                tenant, _, day = (key or "").partition(" ")
                found.append(_failure(owner or tenant or None, day or None, None, name, notes))
        for (detail,) in con.execute(
            "select detail from ops.run_steps where starts_with(run_id, ?) and step = 'build' and status = 'failed' "
            "order by finished_at",
            [run_prefix],
        ).fetchall():
            result = json.loads(detail) if isinstance(detail, str) else (detail or {})
            for node in result.get("failures") or [result.get("error") or "dbt build failed"]:
                found.append(_failure(check=f"dbt {node.split(' (', 1)[0]}", message=node[:1000]))
    return found


def failures_from_text(message: str, sensor_timeout: bool = False) -> list[dict]:
    """Failures named in an exception's text: landing paths (tenant, day, file) and dbt nodes."""
    found = []
    for part in re.split(r";\s+(?=landing/)", message):
        for match in LANDING_PATH.finditer(part):
            file = match.group(0).rstrip("/")
            if sensor_timeout:
                check = "delivery_arrived"
            else:
                prefix = f"{match.group(0)}: "
                check = part.split(prefix, 1)[-1].strip()[:300] if prefix in part else None
            found.append(_failure(match.group("tenant"), match.group("day"), file, check, part.strip()[:1000]))
            break
    dbt_failed = re.search(r"dbt build(?: of the \w+ layer)? failed: (?P<nodes>.*)", message)
    if dbt_failed:
        for node in dbt_failed.group("nodes").split("; "):
            check = node.split(" (", 1)[0].strip()
            found.append(_failure(check=f"dbt {check}", message=node.strip()[:1000]))
    return found


def describe_failure(context: Mapping[str, Any]) -> dict:
    """The alert of a failed task, from its context (never raises for missing pieces)."""
    ti = context.get("ti") or context.get("task_instance")
    dag = context.get("dag")
    dag_id = getattr(dag, "dag_id", None) or getattr(ti, "dag_id", None) or "?"
    task_id = getattr(ti, "task_id", None) or "?"
    exception = context.get("exception")
    message = str(exception) if exception is not None else "task failed (no exception recorded)"
    sensor_timeout = type(exception).__name__ in ("AirflowSensorTimeout", "TaskDeferralTimeout")
    try:
        run_prefix = runs.run_id(context) if dag_id == runs.PIPELINE_DAG_ID else f"{dag_id}__{context['run_id']}"
    except Exception:  # noqa: BLE001 - a partial context still gets an alert
        run_prefix = None
    failures: list[dict] = []
    if run_prefix and not sensor_timeout:
        try:
            failures = failures_from_ops(run_prefix)
        except Exception as error:  # noqa: BLE001 - the warehouse may be busy or broken
            log.warning("callops alert: could not read the run's details from the warehouse: %s", error)
    named = {f["file"] for f in failures if f["file"]} | {f["check"] for f in failures if not f["file"]}
    failures += [f for f in failures_from_text(message, sensor_timeout) if (f["file"] or f["check"]) not in named]
    plan = runs.parse_load_dag_id(dag_id)
    if not failures and plan:
        failures = [_failure(tenant=plan[1], check=f"{task_id} ({type(exception).__name__})", message=message[:1000])]
    failures = failures[:MAX_FAILURES]
    first = failures[0] if failures else _failure(check=task_id)
    alert = {
        "source": "callops",
        "kind": "task_failed",
        "dag_id": dag_id,
        "task_id": task_id,
        "run_id": context.get("run_id"),
        "callops_run_id": run_prefix,
        "try_number": getattr(ti, "try_number", None),
        "log_url": _log_url(ti),
        "tenant": first["tenant"],
        "day": first["day"],
        "file": first["file"],
        "check": first["check"],
        "failures": failures,
        "message": message[:4000],
        "raised_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    alert["text"] = summary(alert)
    return alert


def _log_url(ti: Any) -> str | None:
    try:
        return ti.log_url if ti is not None else None
    except Exception:  # noqa: BLE001
        return None


def summary(alert: Mapping[str, Any]) -> str:
    """One line per alert, then one per failure (a service alert: one per step of its ladder): what a
    chat message or a mail subject shows."""
    if alert["kind"] in SERVICE_KINDS:
        return service_summary(alert)
    if alert["kind"] == "deadline_missed":
        missed = "published but still partial at" if alert.get("is_published") else "not published by"
        head = (
            f"callops deadline missed: tenant {alert['tenant']}, day {alert['day']} {missed} "
            f"{alert['deadline']}: {alert['message']}"
        )
        return head
    head = f"callops: {alert['dag_id']}.{alert['task_id']} failed"
    lines = [head]
    for failure in alert["failures"] or [_failure(check=alert["task_id"])]:
        parts = [
            f"{label} {failure[key]}"
            for label, key in (("tenant", "tenant"), ("day", "day"), ("file", "file"), ("check", "check"))
            if failure.get(key)
        ]
        lines.append("  - " + ", ".join(parts) if parts else "  - " + (failure.get("message") or "")[:300])
    if not alert["failures"]:
        lines.append(f"  {alert['message'][:500]}")
    return "\n".join(lines)


# --- service alerts (callops.service_alerts builds them) ---------------------------------------------

SERVICE_KINDS = ("service", "service_recovered")
# how each rule's figure reads, and whether it breaches above its threshold (else below)
KPI_WORDS = {
    "service_level_rate": ("service level", False),
    "vip_service_level_rate": ("VIP service level", False),
    "abandon_rate": ("abandon rate", True),
    "asa_seconds": ("ASA", True),
}


def _figure(kpi: str | None, value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f} s" if kpi == "asa_seconds" else f"{value:.2f}"


def _breach(alert: Mapping[str, Any]) -> str:
    """"service level 0.42 below 0.70": the episode's first breached rule, its value and threshold."""
    kpi = alert.get("kpi")
    words, above = KPI_WORDS.get(kpi, (kpi or "?", False))
    return (
        f"{words} {_figure(kpi, alert.get('value'))} {'above' if above else 'below'} "
        f"{_figure(kpi, alert.get('threshold'))}"
    )


def service_summary(alert: Mapping[str, Any]) -> str:
    """A service alert's first line (tenant, queue, interval, the breach, the recommended step), then one
    line per step of the ladder; a recovery's single line says how the episode closed."""
    where = f"tenant {alert['tenant']}, queue {alert['queue']}, interval {alert['interval_start']}"
    others = [rule for rule in alert.get("breaches") or [] if rule != alert.get("kpi")]
    also = f" (also {', '.join(others)})" if others else ""
    if alert["kind"] == "service_recovered":
        if alert.get("closed_by") == "withdrawn":
            return (
                f"callops service alert withdrawn: {where}: the complete interval no longer breaches "
                f"(it was {_breach(alert)}{also})"
            )
        return (
            f"callops service recovered: {where} to {alert.get('interval_end')} ({alert.get('closed_by')}): "
            f"{_breach(alert)}{also} at the start"
        )
    ladder = alert.get("ladder") or []
    actions = {step.get("step"): step.get("action") for step in ladder}
    recommended = alert.get("recommended_step")
    advice = (
        f"recommended step {recommended} {actions.get(recommended, '')}".rstrip()
        if recommended is not None else "no step of the ladder reaches the target"
    )
    lines = [f"callops service alert: {where}: {_breach(alert)}{also}; {advice}"]
    for step in ladder:
        after = step.get("service_level_after")
        line = (
            f"  {step.get('step')}. {step.get('action')}: {_agents(step.get('agents'))} agents, service level after "
            f"{'n/a' if after is None else f'{after:.2f}'}"
        )
        lines.append(line + (f" ({step['note']})" if step.get("note") else ""))
    return "\n".join(lines)


def _agents(value: float | None) -> str:
    return "n/a" if value is None else f"+{round(value, 1):g}" if value else "0"


def deadline_alert(
    tenant_id: str,
    day: dt.date,
    deadline: str,
    reason: str,
    is_day_complete: bool | None = None,
    is_published: bool = False,
) -> dict:
    """A tenant's day not published by its deadline, or published in time but still partial then
    (``is_day_complete`` false: the loaded telephony has not finished the day)."""
    alert = {
        "source": "callops",
        "kind": "deadline_missed",
        "dag_id": runs.DEADLINE_DAG_ID,
        "task_id": "check_deadlines",
        "tenant": tenant_id,
        "day": day.isoformat(),
        "file": None,
        "check": "publish_deadline",
        "deadline": deadline,
        "is_day_complete": is_day_complete,
        "is_published": is_published,
        "failures": [_failure(tenant_id, day, None, "publish_deadline", reason)],
        "message": reason,
        "raised_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    alert["text"] = summary(alert)
    return alert


# --- delivery -------------------------------------------------------------------------------------


def on_failure(context: Mapping[str, Any]) -> None:
    """Airflow ``on_failure_callback`` of every callops task."""
    if getattr(context.get("exception"), "callops_alerted", False):
        return  # the task sent its own alerts (the deadline watch)
    try:
        send(describe_failure(context), context)
    except Exception:  # noqa: BLE001 - never fail the callback
        log.exception("callops alert: could not build or send the alert")


# a service alert is no failure: logged as a warning (a recovery as information), every other alert an error
LOG_LEVELS = {"service": logging.WARNING, "service_recovered": logging.INFO}


def send(alert: dict, context: Mapping[str, Any] | None = None, extra_webhooks: Sequence[str] = ()) -> dict:
    """Log, record, POST and mail one alert; returns what was delivered where. ``context``: the Airflow
    context of the failed task, when there is one (the notifiers get it). ``extra_webhooks``: URLs the
    alert is POSTed to besides CALLOPS_ALERT_WEBHOOK_URL (a tenant's own, for its service alerts), each
    once; what they answered is returned in order, never the URLs (they may carry a token)."""
    delivered: dict[str, Any] = {"logged": True}
    log.log(LOG_LEVELS.get(alert.get("kind"), logging.ERROR), "%s", alert["text"])
    try:
        settings.alerts_dir().mkdir(parents=True, exist_ok=True)
        with (settings.alerts_dir() / "alerts.jsonl").open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(alert, default=str) + "\n")
        delivered["recorded"] = True
    except OSError as error:
        log.warning("callops alert: could not append to alerts.jsonl: %s", error)
    if url := settings.alert_webhook_url():
        delivered["webhook"] = post_webhook(url, alert, context)
    extra = [each for each in dict.fromkeys(extra_webhooks) if each and each != url]
    if extra:
        delivered["extra_webhooks"] = [post_webhook(each, alert, context) for each in extra]
    if recipients := settings.alert_email():
        delivered["email"] = send_email(recipients, alert, context)
    return delivered


def mail_subject(alert: Mapping[str, Any]) -> str:
    return alert["text"].splitlines()[0][:200]


def mail_body(alert: Mapping[str, Any]) -> str:
    return alert["text"] + "\n\n" + json.dumps(alert, indent=2, default=str)


def post_webhook(url: str, alert: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> str:
    """Through callops.notifiers.WebhookNotifier."""
    try:
        from callops.notifiers import WebhookNotifier

        notifier = WebhookNotifier(url, alert)
        notifier.notify(dict(context or {}))
        return f"HTTP {notifier.status}"
    except Exception as error:  # noqa: BLE001 - an unreachable webhook must not fail the callback
        log.warning("callops alert: webhook POST failed: %s", error)
        return f"failed: {error}"


def send_email(recipients: str, alert: Mapping[str, Any], context: Mapping[str, Any] | None = None) -> str:
    """Through callops.notifiers.MailNotifier (providers-smtp's SmtpNotifier)."""
    try:
        from callops.notifiers import MailNotifier

        MailNotifier(to=recipients, subject=mail_subject(alert), body=mail_body(alert)).notify(dict(context or {}))
        return f"sent to {recipients}"
    except Exception as error:  # noqa: BLE001
        log.warning("callops alert: e-mail to %s failed: %s", recipients, error)
        return f"failed: {error}"
