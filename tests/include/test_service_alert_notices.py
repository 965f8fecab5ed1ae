"""Service alerts' notifications (issue 23, "Where alerts go"): each episode of marts.fct_service_alerts on
a tenant's latest telephony delivery day that the run loaded is told once when it appears and once when
it closes (or is withdrawn), to alerts.jsonl, the center's webhook and the tenant's own, never twice.

The marts are made by hand here (the columns of fct_service_alerts and fct_service_alert_steps), with
the ops rows a load records; webhooks are local HTTP servers. Asia/Shanghai (+08:00) and
America/Sao_Paulo (-03:00, no daylight saving since 2019) show the tenant's offset.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from zoneinfo import ZoneInfo

import pytest

from callops import alerts, incremental, pipeline, service_alerts, settings, warehouse
from callops.config import ConfigError, load_config

DAY = dt.date(2026, 3, 16)
TOKEN = "T0KEN-s3cr3t"  # a token a tenant's webhook URL carries: never in the warehouse
TENANTS = ("saopaulo_retail", "shanghai_bank", "stockholm_telco")
ZONES = {
    "shanghai_bank": "Asia/Shanghai", "saopaulo_retail": "America/Sao_Paulo", "stockholm_telco": "Europe/Stockholm"
}
ACTIONS = (
    "same_site_agents", "ivr_front_service", "outbound_agents", "pause_cross_selling", "cross_site_agents",
    "cross_skill_agents",
)
# a ladder: agents each step brings, the service level after it and the steps before, a note on step 3
AGENTS = (2.0, 1.5, 0.0, 0.8, 3.0, 1.0)
SERVICE_LEVEL_AFTER = (0.62, 0.71, 0.71, 0.76, 0.84, None)
NOTE = "no outbound contacts that day"
ISSUE_KEYS = {
    "kind", "tenant", "queue", "interval_start", "kpi", "value", "threshold", "breaches", "ladder",
    "recommended_step", "text", "raised_at",
}

MARTS_DDL = """
create schema if not exists marts;
create table marts.fct_service_alerts (
    tenant_id varchar, queue_id varchar, interval_start_at timestamp, interval_start_local timestamp,
    interval_end_local timestamp, kpi_name varchar, kpi_value double, threshold_value double,
    recommended_step integer, breaching_interval_count integer, breaches varchar, closed_by varchar,
    is_open boolean, episode_date date, closing_interval_start_at timestamp, agents_before double,
    service_level_before double
);
create table marts.fct_service_alert_steps (
    tenant_id varchar, queue_id varchar, interval_start_at timestamp, interval_start_local timestamp,
    step integer, action varchar, agents double, service_level_after double, note varchar, episode_date date
);
"""


# --- webhooks, config, marts ---------------------------------------------------------------------


class Hook:
    """A local HTTP server collecting the JSON bodies POSTed to it."""

    def __init__(self) -> None:
        self.received: list[dict] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server's name
                received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, path: str = "/hooks") -> str:
        return f"http://127.0.0.1:{self.server.server_port}{path}"


@pytest.fixture
def hooks(home, monkeypatch) -> Iterator[dict[str, Hook]]:
    """The center's webhook (CALLOPS_ALERT_WEBHOOK_URL) and one per tenant with a webhook of its own
    (shanghai_bank, saopaulo_retail; stockholm_telco has none), written into callops.yml."""
    made = {name: Hook() for name in ("center", "shanghai_bank", "saopaulo_retail")}
    monkeypatch.setenv(settings.ALERT_WEBHOOK_URL_ENV, made["center"].url())
    write_config(home, {tenant: made[tenant].url(f"/hooks/{TOKEN}") for tenant in ("shanghai_bank", "saopaulo_retail")})
    yield made
    for hook in made.values():
        hook.server.shutdown()


def write_config(home, urls: dict[str, str], tenants: tuple[str, ...] = TENANTS) -> None:
    lines = ["tenants:"]
    for tenant in tenants:
        lines.append(f"  - id: {tenant}\n    name: {tenant}\n    timezone: {ZONES[tenant]}")
        if tenant in urls:
            lines.append(f"    alert_webhook_url: {urls[tenant]}")
    (home.parent / "callops.yml").write_text("\n".join(lines) + "\n")


@pytest.fixture
def marts(home):
    with warehouse.session() as con:
        con.execute(MARTS_DDL)


def utc(tenant: str, day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    """A local time of ``tenant``'s as the marts store it: UTC, without a zone."""
    local = dt.datetime.combine(day, dt.time(hour, minute), tzinfo=ZoneInfo(ZONES[tenant]))
    return local.astimezone(dt.UTC).replace(tzinfo=None)


def episode(
    tenant: str, queue: str, hour: int, day: dt.date = DAY, kpi: str = "service_level_rate", value: float = 0.25,
    threshold: float = 0.7, breaches: tuple[str, ...] = ("service_level_rate", "asa_seconds"),
    recommended_step: int | None = 5,
) -> None:
    """An open episode from ``hour`` (local) with its six steps."""
    start = utc(tenant, day, hour)
    local = dt.datetime.combine(day, dt.time(hour))
    with warehouse.session() as con:
        con.execute(
            "insert into marts.fct_service_alerts values (?, ?, ?, ?, null, ?, ?, ?, ?, 1, ?, null, true, ?, null, "
            "4.0, 0.55)",
            [tenant, queue, start, local, kpi, value, threshold, recommended_step, json.dumps(list(breaches)), day],
        )
        con.executemany(
            "insert into marts.fct_service_alert_steps values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                [tenant, queue, start, local, step, action, agents, after, NOTE if step == 3 else None, day]
                for step, action, agents, after in zip(range(1, 7), ACTIONS, AGENTS, SERVICE_LEVEL_AFTER)
            ],
        )


def close(tenant: str, queue: str, hour: int, end: dt.datetime, closed_by: str, closing_at: dt.datetime | None) -> None:
    with warehouse.session() as con:
        con.execute(
            "update marts.fct_service_alerts set interval_end_local = ?, closed_by = ?, is_open = false, "
            "closing_interval_start_at = ? where tenant_id = ? and queue_id = ? and interval_start_at = ?",
            [end, closed_by, closing_at, tenant, queue, utc(tenant, DAY, hour)],
        )


def withdraw(tenant: str, queue: str, hour: int) -> None:
    with warehouse.session() as con:
        for table in ("fct_service_alerts", "fct_service_alert_steps"):
            con.execute(
                f"delete from marts.{table} where tenant_id = ? and queue_id = ? and interval_start_at = ?",
                [tenant, queue, utc(tenant, DAY, hour)],
            )


def loaded(run_id: str, tenant: str, day: dt.date = DAY, name: str = "queue_log.1", action: str = "loaded",
           feed: str = "telephony") -> None:
    """A delivered file as a load records it: raw.manifest and the run's ops.run_files row."""
    file_id = f"{feed}/{tenant}/{day}/{name}"
    with warehouse.session() as con:
        con.execute(
            "insert or replace into raw.manifest (file_id, feed, tenant_id, delivery_date, file_name, file_path, "
            "status, gate_status, run_id) values (?, ?, ?, ?, ?, ?, 'loaded', 'passed', ?)",
            [file_id, feed, tenant, day, name, f"/landing/{file_id}", run_id],
        )
        con.execute(
            "insert into ops.run_files (run_id, file_id, feed, tenant_id, delivery_date, file_name, action) "
            "values (?, ?, ?, ?, ?, ?, ?)",
            [run_id, file_id, feed, tenant, day, name, action],
        )


def notify(run_id: str, held_back: tuple[str, ...] = ()) -> tuple[list[dict], dict]:
    """What publish_marts does after a publish of every tenant (less ``held_back``): the notices, recorded
    under the writer lock, then sent; returns them and the publish step's detail."""
    published = {"tenants": {tenant: {} for tenant in TENANTS}, "held_back": list(held_back)}
    with warehouse.writer_lock():
        notices, detail = service_alerts.after_publish(run_id, published)
    service_alerts.deliver(notices)
    return [notice.payload for notice in notices], detail


def jsonl() -> list[dict]:
    path = settings.alerts_dir() / "alerts.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def recorded() -> list[tuple]:
    with warehouse.session(read_only=True) as con:
        return con.execute(
            "select tenant_id, queue_id, interval_start_at, kind, run_id from ops.service_alert_notices "
            "order by notified_at, tenant_id, queue_id, kind"
        ).fetchall()


def ladder(notes: bool = True) -> list[dict]:
    return [
        {"step": step, "action": action, "agents": agents, "service_level_after": after}
        | ({"note": NOTE} if notes and step == 3 else {})
        for step, action, agents, after in zip(range(1, 7), ACTIONS, AGENTS, SERVICE_LEVEL_AFTER)
    ]


# --- the notices ---------------------------------------------------------------------------------


def test_an_open_episode_of_the_latest_loaded_day_is_notified_once_with_every_key(marts, hooks, caplog):
    loaded("r1", "shanghai_bank")
    episode("shanghai_bank", "cards", 9)

    with caplog.at_level(logging.INFO, logger="callops.alerts"):
        sent, detail = notify("r1")

    (alert,) = jsonl()
    assert set(alert) >= ISSUE_KEYS
    assert {key: alert[key] for key in ISSUE_KEYS - {"text", "raised_at"}} == {
        "kind": "service",
        "tenant": "shanghai_bank",
        "queue": "cards",
        "interval_start": "2026-03-16T09:00:00+08:00",
        "kpi": "service_level_rate",
        "value": 0.25,
        "threshold": 0.7,
        "breaches": ["service_level_rate", "asa_seconds"],
        "ladder": ladder(),
        "recommended_step": 5,
    }
    assert (alert["source"], alert["interval_end"], alert["closed_by"], alert["day"]) == (
        "callops", None, None, "2026-03-16"
    )
    raised = dt.datetime.fromisoformat(alert["raised_at"])
    assert raised.utcoffset() == dt.timedelta(0) and abs(dt.datetime.now(dt.UTC) - raised) < dt.timedelta(minutes=1)
    assert alert["text"].splitlines() == [
        "callops service alert: tenant shanghai_bank, queue cards, interval 2026-03-16T09:00:00+08:00: "
        "service level 0.25 below 0.70 (also asa_seconds); recommended step 5 cross_site_agents",
        "  1. same_site_agents: +2 agents, service level after 0.62",
        "  2. ivr_front_service: +1.5 agents, service level after 0.71",
        f"  3. outbound_agents: 0 agents, service level after 0.71 ({NOTE})",
        "  4. pause_cross_selling: +0.8 agents, service level after 0.76",
        "  5. cross_site_agents: +3 agents, service level after 0.84",
        "  6. cross_skill_agents: +1 agents, service level after n/a",
    ]
    assert alerts.mail_subject(alert) == alert["text"].splitlines()[0][:200]
    assert [(r.levelname, r.getMessage()) for r in caplog.records] == [("WARNING", alert["text"])]
    assert sent == [alert]
    assert hooks["center"].received == [alert]
    assert hooks["shanghai_bank"].received == [alert]
    assert hooks["saopaulo_retail"].received == []
    assert detail == {"service_alerts": {"saopaulo_retail": 0, "shanghai_bank": 1, "stockholm_telco": 0}}
    assert recorded() == [("shanghai_bank", "cards", utc("shanghai_bank", DAY, 9), "service", "r1")]

    # the same run again, and a later run that loads the day again: nothing new
    assert notify("r1") == ([], {"service_alerts": {"saopaulo_retail": 0, "shanghai_bank": 0, "stockholm_telco": 0}})
    loaded("r2", "shanghai_bank", name="queue_log.2")
    assert notify("r2")[0] == []
    assert len(jsonl()) == 1 and len(hooks["center"].received) == 1 and len(hooks["shanghai_bank"].received) == 1


def test_a_closed_episode_recovers_once_and_a_vanished_one_is_withdrawn(marts, hooks, caplog):
    loaded("r1", "shanghai_bank")
    episode("shanghai_bank", "cards", 9)
    episode("shanghai_bank", "loans", 10, kpi="abandon_rate", value=0.3, threshold=0.1, breaches=("abandon_rate",),
            recommended_step=None)
    first, _ = notify("r1")
    assert [(a["kind"], a["queue"]) for a in first] == [("service", "cards"), ("service", "loans")]
    assert first[1]["text"].splitlines()[0] == (
        "callops service alert: tenant shanghai_bank, queue loans, interval 2026-03-16T10:00:00+08:00: "
        "abandon rate 0.30 above 0.10; no step of the ladder reaches the target"
    )

    # the next chunk: 09:30 complete and calm closes cards; the complete 10:00 no longer breaches
    loaded("r2", "shanghai_bank", name="queue_log.2")
    close("shanghai_bank", "cards", 9, dt.datetime(2026, 3, 16, 9, 30), "recovered", utc("shanghai_bank", DAY, 9, 30))
    withdraw("shanghai_bank", "loans", 10)
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="callops.alerts"):
        recovered, detail = notify("r2")

    cards, loans = recovered
    assert {key: cards[key] for key in ISSUE_KEYS - {"text", "raised_at"}} | {
        "interval_end": cards["interval_end"], "closed_by": cards["closed_by"]
    } == {
        "kind": "service_recovered",
        "tenant": "shanghai_bank",
        "queue": "cards",
        "interval_start": "2026-03-16T09:00:00+08:00",
        "interval_end": "2026-03-16T09:30:00+08:00",
        "closed_by": "recovered",
        "kpi": "service_level_rate",
        "value": 0.25,
        "threshold": 0.7,
        "breaches": ["service_level_rate", "asa_seconds"],
        "ladder": ladder(),
        "recommended_step": 5,
    }
    assert cards["text"] == (
        "callops service recovered: tenant shanghai_bank, queue cards, interval 2026-03-16T09:00:00+08:00 to "
        "2026-03-16T09:30:00+08:00 (recovered): service level 0.25 below 0.70 (also asa_seconds) at the start"
    )
    # withdrawn: its notice repeated (kpi, value, ladder ...), saying so
    assert (loans["kind"], loans["closed_by"], loans["interval_end"]) == ("service_recovered", "withdrawn", None)
    assert {key: loans[key] for key in ("tenant", "queue", "interval_start", "kpi", "value", "threshold",
                                        "breaches", "ladder", "recommended_step")} == {
        key: first[1][key] for key in ("tenant", "queue", "interval_start", "kpi", "value", "threshold", "breaches",
                                       "ladder", "recommended_step")
    }
    assert loans["text"] == (
        "callops service alert withdrawn: tenant shanghai_bank, queue loans, interval 2026-03-16T10:00:00+08:00: "
        "the complete interval no longer breaches (it was abandon rate 0.30 above 0.10)"
    )
    assert detail["service_alerts"]["shanghai_bank"] == 2
    assert [a["kind"] for a in jsonl()] == ["service", "service", "service_recovered", "service_recovered"]
    assert hooks["shanghai_bank"].received == first + recovered
    assert [(r.levelname, r.getMessage().split(":")[0]) for r in caplog.records] == [
        ("INFO", "callops service recovered"), ("INFO", "callops service alert withdrawn")
    ]
    assert [row[3] for row in recorded()] == ["service", "service", "service_recovered", "service_recovered"]

    # never twice: the same run again, a later one
    assert notify("r2")[0] == [] and notify("r3")[0] == []
    assert len(jsonl()) == 4


def test_an_episode_that_opens_and_closes_before_a_publish_sees_it_is_notified_open_then_recovered(marts, hooks):
    loaded("r1", "shanghai_bank")
    episode("shanghai_bank", "cards", 9)
    close("shanghai_bank", "cards", 9, dt.datetime(2026, 3, 16, 10, 0), "recovered", utc("shanghai_bank", DAY, 10))
    sent, _ = notify("r1")
    assert [(a["kind"], a["interval_end"]) for a in sent] == [
        ("service", None), ("service_recovered", "2026-03-16T10:00:00+08:00")
    ]


def test_older_days_and_days_the_run_did_not_load_notify_nothing(marts, hooks):
    earlier = DAY - dt.timedelta(days=1)
    loaded("r0", "shanghai_bank", DAY)  # the latest delivery day, loaded by an earlier run
    episode("shanghai_bank", "cards", 9, day=earlier)
    episode("shanghai_bank", "cards", 9)

    # a backfill of the day before: an older day
    loaded("backfill", "shanghai_bank", earlier)
    assert notify("backfill")[0] == []
    # a run that loaded nothing of the day: a file unchanged, another feed's delivery of it
    loaded("r1", "shanghai_bank", DAY, action="unchanged")
    loaded("r1", "shanghai_bank", DAY, name="evaluations.csv", feed="qa")
    assert notify("r1")[0] == []
    # a run that re-delivers the latest day: its episode, not the older day's
    loaded("r2", "shanghai_bank", DAY, action="replaced")
    sent, _ = notify("r2")
    assert [(a["kind"], a["interval_start"]) for a in sent] == [("service", "2026-03-16T09:00:00+08:00")]
    # a later delivery day makes DAY an older one: its episodes are no more notified
    withdraw("shanghai_bank", "cards", 9)
    episode("shanghai_bank", "loans", 11)
    loaded("r3", "shanghai_bank", DAY + dt.timedelta(days=1))
    sent, _ = notify("r3")
    assert [(a["kind"], a["queue"], a["closed_by"]) for a in sent] == [("service_recovered", "cards", "withdrawn")]


def test_each_tenant_webhook_receives_its_own_notices_and_the_center_every_one(marts, hooks):
    for tenant in TENANTS:
        loaded("r1", tenant)
    episode("shanghai_bank", "cards", 9)
    episode("saopaulo_retail", "sac", 22, kpi="asa_seconds", value=95.0, threshold=40.0, breaches=("asa_seconds",),
            recommended_step=1)
    episode("stockholm_telco", "support", 8)

    sent, detail = notify("r1")

    assert detail == {"service_alerts": {"saopaulo_retail": 1, "shanghai_bank": 1, "stockholm_telco": 1}}
    by_tenant = {alert["tenant"]: alert for alert in sent}
    assert by_tenant["saopaulo_retail"]["interval_start"] == "2026-03-16T22:00:00-03:00"
    assert by_tenant["saopaulo_retail"]["text"].splitlines()[0] == (
        "callops service alert: tenant saopaulo_retail, queue sac, interval 2026-03-16T22:00:00-03:00: "
        "ASA 95 s above 40 s; recommended step 1 same_site_agents"
    )
    assert by_tenant["stockholm_telco"]["interval_start"] == "2026-03-16T08:00:00+01:00"
    assert sorted(a["tenant"] for a in hooks["center"].received) == list(TENANTS)
    assert [a["tenant"] for a in hooks["shanghai_bank"].received] == ["shanghai_bank"]
    assert [a["tenant"] for a in hooks["saopaulo_retail"].received] == ["saopaulo_retail"]

    # the Sao Paulo episode closes at local midnight: the next day's start, at its offset
    close("saopaulo_retail", "sac", 22, dt.datetime(2026, 3, 17, 0, 0), "midnight", None)
    loaded("r2", "saopaulo_retail", name="queue_log.2")
    (midnight,), _ = notify("r2")
    assert (midnight["tenant"], midnight["interval_end"], midnight["closed_by"]) == (
        "saopaulo_retail", "2026-03-17T00:00:00-03:00", "midnight"
    )
    assert [a["kind"] for a in hooks["saopaulo_retail"].received] == ["service", "service_recovered"]
    assert [a["tenant"] for a in hooks["shanghai_bank"].received] == ["shanghai_bank"]


def test_a_tenant_held_back_or_not_in_callops_yml_is_not_notified(marts, hooks, home):
    for tenant in ("shanghai_bank", "stockholm_telco"):
        loaded("r1", tenant)
        episode(tenant, "cards", 9)
    sent, detail = notify("r1", held_back=("stockholm_telco",))
    assert [a["tenant"] for a in sent] == ["shanghai_bank"]
    assert detail == {"service_alerts": {"saopaulo_retail": 0, "shanghai_bank": 1}}
    # published by the next run (its gate passed the held-back load): notified then
    with warehouse.session() as con:
        con.execute(
            "insert into ops.changed_partitions values ('r1', 'f', 'stockholm_telco', ?, ?, now(), 'r2')", [DAY, DAY]
        )
    assert [a["tenant"] for a in notify("r2")[0]] == ["stockholm_telco"]

    # a tenant gone from callops.yml (its episodes gone from the mart too): no withdrawal for it
    write_config(home, {}, tenants=("saopaulo_retail", "stockholm_telco"))
    withdraw("shanghai_bank", "cards", 9)
    assert notify("r3")[0] == []


def test_a_build_warehouse_run_notifies_the_days_its_load_runs_loaded(marts, hooks):
    """In Airflow the loads record under run ids of their own (a scheduled load DAG's, each feed of the
    landing watch's): the build run's load step names them, and a load its gate passed counts too."""
    build = "build_warehouse__asset_triggered__2026-03-16T02:05:00+00:00"
    landing = "load_landing__scheduled__2026-03-16T02:00:00+00:00__telephony"
    scheduled = "load_telephony__saopaulo_retail__scheduled__2026-03-17T05:00:00+00:00"
    late = "load_landing__scheduled__2026-03-16T02:10:00+00:00__telephony"
    loaded(landing, "shanghai_bank")
    loaded(scheduled, "saopaulo_retail")
    loaded(late, "stockholm_telco")
    for tenant in TENANTS:
        episode(tenant, "cards", 9)
    pipeline.record_loads(build, DAY, DAY, [landing, scheduled], 2)
    with warehouse.session() as con:  # loaded between the build and its gate, which passed it
        con.execute(
            "insert into ops.changed_partitions values (?, 'f', 'stockholm_telco', ?, ?, now(), ?)",
            [late, DAY, DAY, build],
        )

    sent, _ = notify(build)

    assert sorted(a["tenant"] for a in sent) == list(TENANTS)
    assert {row[4] for row in recorded()} == {build}
    assert notify("build_warehouse__asset_triggered__2026-03-16T02:20:00+00:00")[0] == []


def test_a_webhook_that_fails_or_notify_code_that_fails_never_fails_the_publish(marts, hooks, home, caplog):
    with socket.socket() as free:  # a port nothing listens on
        free.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{free.getsockname()[1]}/hooks/{TOKEN}"
    write_config(home, {"shanghai_bank": dead})
    loaded("r1", "shanghai_bank")
    episode("shanghai_bank", "cards", 9)
    with caplog.at_level(logging.WARNING, logger="callops.alerts"):
        sent, _ = notify("r1")
    assert len(sent) == 1 and hooks["center"].received == sent and len(jsonl()) == 1
    assert any("webhook POST failed" in r.getMessage() for r in caplog.records)
    assert all(TOKEN not in r.getMessage() for r in caplog.records)

    # a mart the code cannot read: logged, named in the publish step's detail, nothing raised
    with warehouse.session() as con:
        con.execute("alter table marts.fct_service_alerts drop column kpi_name")
    loaded("r2", "shanghai_bank", name="queue_log.2")
    with caplog.at_level(logging.ERROR, logger="callops.alerts"):
        failed = notify("r2")
    assert failed[0] == []
    assert failed[1]["service_alerts"] == {}
    assert "kpi_name" in failed[1]["service_alerts_failure"]
    assert any("could not work out this run's notifications" in r.getMessage() for r in caplog.records)


def test_the_publish_step_sends_them_and_counts_them_in_its_detail(marts, hooks):
    loaded("r1", "shanghai_bank")
    episode("shanghai_bank", "cards", 9)
    with warehouse.session() as con:
        pipeline.write_tenants(con, load_config())

    published = pipeline.publish_marts("r1")

    assert published["service_alerts"] == {"saopaulo_retail": 0, "shanghai_bank": 1, "stockholm_telco": 0}
    with warehouse.session(read_only=True) as con:
        status, detail = con.execute(
            "select status, detail from ops.run_steps where run_id = 'r1' and step = 'publish'"
        ).fetchone()
    assert (status, json.loads(detail)["service_alerts"]) == ("success", published["service_alerts"])
    assert [(a["kind"], a["tenant"]) for a in jsonl()] == [("service", "shanghai_bank")]
    assert [a["queue"] for a in hooks["center"].received] == ["cards"]
    assert [a["queue"] for a in hooks["shanghai_bank"].received] == ["cards"]

    # notification code that fails: the publish stands, its detail says why
    with warehouse.session() as con:
        con.execute("alter table marts.fct_service_alerts drop column kpi_name")
    loaded("r2", "shanghai_bank", name="queue_log.2")
    published = pipeline.publish_marts("r2")
    assert published["service_alerts"] == {} and "kpi_name" in published["service_alerts_failure"]
    with warehouse.session(read_only=True) as con:
        assert con.execute(
            "select status from ops.run_steps where run_id = 'r2' and step = 'publish'"
        ).fetchone() == ("success",)


def test_a_home_without_the_service_alert_marts_notifies_nothing(home, hooks):
    loaded("r1", "shanghai_bank")
    assert notify("r1") == ([], {"service_alerts": {"saopaulo_retail": 0, "shanghai_bank": 0, "stockholm_telco": 0}})


# --- the tenant's webhook URL --------------------------------------------------------------------


def test_a_tenant_webhook_url_is_validated_naming_file_tenant_and_key_without_quoting_it(home):
    path = home.parent / "callops.yml"
    for value, said in (
        (f"ftp://hooks.example.com/{TOKEN}", "got a URL with scheme 'ftp'"),
        (f"hooks.example.com/{TOKEN}", "got a URL with no scheme"),
        (f"https:///{TOKEN}", "got a URL without a host"),
        (f"https://hooks.example.com/a {TOKEN}", "got a URL with a space in it"),
        ("42", "got int 42"),
    ):
        path.write_text(f"tenants:\n  - {{id: shanghai_bank, name: S, timezone: Asia/Shanghai, "
                        f"alert_webhook_url: '{value}'}}\n".replace("'42'", "42"))
        with pytest.raises(ConfigError) as refused:
            load_config()
        assert str(refused.value) == (
            f"{path}: tenant 'shanghai_bank': 'alert_webhook_url' must be an http:// or https:// URL "
            f"(or null for none), {said}"
        )
        assert TOKEN not in str(refused.value)
    path.write_text("tenants:\n  - {id: a, name: A, timezone: UTC, alert_webhook_url: null}\n"
                    "  - {id: b, name: B, timezone: UTC}\n"
                    "  - {id: c, name: C, timezone: UTC, alert_webhook_url: 'https://hooks.example.com/x?t=1'}\n")
    assert [t.alert_webhook_url for t in load_config().tenants] == [None, None, "https://hooks.example.com/x?t=1"]


def test_the_tenant_webhook_url_is_in_no_warehouse_table_and_changes_no_fingerprint(marts, hooks, home):
    loaded("r1", "shanghai_bank")
    episode("shanghai_bank", "cards", 9)
    with warehouse.session() as con:
        pipeline.write_tenants(con, load_config())
        before = incremental.fingerprint(con)
    notify("r1")
    with warehouse.session() as con:
        assert con.execute("select count(*) from raw.tenants").fetchone()[0] == 3
        assert "alert_webhook_url" not in [row[0] for row in con.execute("describe raw.tenants").fetchall()]
        tables = con.execute(
            "select schema_name, table_name from duckdb_tables() where database_name = current_database()"
        ).fetchall()
        holding = [
            f"{schema}.{table}" for schema, table in tables
            if con.execute(
                f'select count(*) from "{schema}"."{table}" as t where contains(t::varchar, ?)', [TOKEN]
            ).fetchone()[0]
        ]
        assert holding == []
        assert len(tables) > 10
        # a new URL (a rotated token) is no new tenant setting: no full build for it
        write_config(home, {"shanghai_bank": "https://hooks.example.com/other-token"})
        pipeline.write_tenants(con, load_config())
        assert incremental.fingerprint(con) == before


# --- through the real marts ----------------------------------------------------------------------


@pytest.mark.integration
def test_a_day_in_chunks_notifies_the_surge_when_loaded_and_its_recovery_once(home, monkeypatch):
    """The day of tests/include/test_service_episodes.py (a surge on shanghai_bank's cards from 09:00,
    calm from 09:30; abandons on stockholm_telco's support at 08:30), built by dbt and published."""
    from tests.conftest import deliver
    from tests.include.test_service_episodes import CHUNK_LATE_MORNING, CHUNK_MORNING, CONFIG, STOCKHOLM_DAY

    center, own = Hook(), Hook()
    monkeypatch.setenv(settings.ALERT_WEBHOOK_URL_ENV, center.url())
    (home.parent / "callops.yml").write_text(
        CONFIG.replace("alert_min_offered: 4}", f"alert_min_offered: 4, alert_webhook_url: '{own.url()}'}}", 1)
    )
    day = DAY.isoformat()
    deliver(home, "stockholm_telco", day, f"queue_log-{DAY:%Y%m%d}", "\n".join(STOCKHOLM_DAY) + "\n")
    deliver(home, "shanghai_bank", day, f"queue_log-{DAY:%Y%m%d}-0800", "\n".join(CHUNK_MORNING) + "\n")

    def run(run_id: str) -> dict:
        pipeline.load_deliveries(run_id, DAY, DAY)
        pipeline.build_marts(run_id)
        pipeline.validate_marts(run_id)
        return pipeline.publish_marts(run_id)

    try:
        assert run("morning")["service_alerts"] == {"shanghai_bank": 1, "stockholm_telco": 1}
        cards, support = jsonl()
        assert (cards["kind"], cards["tenant"], cards["queue"], cards["interval_start"]) == (
            "service", "shanghai_bank", "cards", "2026-03-16T09:00:00+08:00"
        )
        assert (cards["kpi"], cards["value"], cards["threshold"], cards["breaches"]) == (
            "service_level_rate", 0.0, 0.7, ["service_level_rate", "asa_seconds"]
        )
        assert [step["step"] for step in cards["ladder"]] in ([], [1, 2, 3, 4, 5, 6])  # the steps mart, when built
        assert (support["tenant"], support["queue"], support["interval_start"], support["breaches"]) == (
            "stockholm_telco", "support", "2026-03-16T08:30:00+01:00", ["service_level_rate", "abandon_rate"]
        )
        assert [a["tenant"] for a in center.received] == ["shanghai_bank", "stockholm_telco"]
        assert own.received == [cards]

        deliver(home, "shanghai_bank", day, f"queue_log-{DAY:%Y%m%d}-0945", "\n".join(CHUNK_LATE_MORNING) + "\n")
        assert run("late_morning")["service_alerts"] == {"shanghai_bank": 1, "stockholm_telco": 0}
        recovered = jsonl()[2:]
        assert [(a["kind"], a["queue"], a["interval_end"], a["closed_by"]) for a in recovered] == [
            ("service_recovered", "cards", "2026-03-16T09:30:00+08:00", "recovered")
        ]
        assert pipeline.publish_marts("late_morning")["service_alerts"] == {"shanghai_bank": 0, "stockholm_telco": 0}
        assert len(jsonl()) == 3 and len(center.received) == 3 and len(own.received) == 2
    finally:
        center.server.shutdown()
        own.server.shutdown()
