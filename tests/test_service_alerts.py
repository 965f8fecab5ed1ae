"""Service alerts end to end (issue 23): a simulated day delivered in chunks with a surge on one queue
raises one alert for that queue and interval, with the dispatch ladder's six steps, in the run that loads
it; none for the calm queues; a recovery once the surge is over; nothing for the history loaded with it.

Two tenants in two formats (Asterisk queue_log; Amazon Connect CTR with agent states and the IVR), the
simulator's full feeds (roster, schedules, offers), a Monday after a week of history (the IVR share reads
the Monday before). Both get the surge (general x 10 from 10:00 for an hour). The last day arrives in
30-minute chunks through three ``callops run``\\ s: up to 10:30, up to 13:00, the rest and the next day's
tail. Each tenant's own webhook (``alert_webhook_url``) is a local HTTP server.
"""

from __future__ import annotations

import datetime as dt
import http.server
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from pathlib import Path

import duckdb
import pytest

from callops import staffing
from callops.config import load_config
from callops.simulate.model import Surge
from callops.simulate.run import simulate

pytestmark = pytest.mark.integration

CALLOPS = str(Path(sys.executable).parent / "callops")
START = dt.date(2026, 3, 2)  # a Monday
DAYS = 8
LAST = START + dt.timedelta(days=DAYS - 1)  # the Monday after
TAIL = LAST + dt.timedelta(days=1)
SURGE = Surge("general", 10 * 60, 60, 10.0)
CALLS_PER_DAY = 1000  # the general queue gets 20 or more calls a half hour in the day: a calm one closes
CHUNK = re.compile(r"-(?P<day>\d{8})-(?P<time>\d{4})$")
CUTS = ("1030", "1300", None)  # each run delivers the last day's chunks starting before the cut
TENANTS = {"east": "+08:00", "west": "+01:00"}
ACTIONS = [
    "same_site_agents", "ivr_front_service", "outbound_agents", "pause_cross_selling", "cross_site_agents",
    "cross_skill_agents",
]  # fmt: skip


class Hooks(http.server.BaseHTTPRequestHandler):
    received: dict[str, list[dict]] = {}

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.setdefault(self.path.strip("/"), []).append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


def config_text(port: int) -> str:
    """The alert thresholds a floor would set for a 1,000-call day: the service level below 0.5, the abandon
    rate above 0.25, the ASA above 2 minutes (VIP rule off), so only a surge alerts, not a noisy interval."""
    rules = "alert_service_level_rate: 0.5, alert_vip_service_level_rate: null, alert_abandon_rate: 0.25, " \
        "alert_asa_seconds: 120"
    return "tenants:\n" + "".join(
        f"  - {{id: {tenant}, name: {tenant.title()}, timezone: {zone}, {rules}, "
        f"alert_webhook_url: 'http://127.0.0.1:{port}/{tenant}'}}\n"
        for tenant, zone in (("east", "Asia/Shanghai"), ("west", "Europe/Stockholm"))
    )


def chunk_start(path: Path) -> str | None:
    """A chunk's local start, YYYYMMDDHHMM (a chunk of the last day's file may start after its midnight)."""
    match = CHUNK.search(path.name)
    return match["day"] + match["time"] if match else None


def notices(home: Path) -> list[dict]:
    path = home / "alerts" / "alerts.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return [alert for alert in map(json.loads, lines) if alert["kind"] in ("service", "service_recovered")]


def rows(database: Path, sql: str, params: list | None = None) -> list[dict]:
    con = duckdb.connect(str(database), read_only=True)
    try:
        cursor = con.execute(sql, params or [])
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]
    finally:
        con.close()


@pytest.fixture(scope="module")
def played(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("service_alerts")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hooks)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (root / "callops.yml").write_text(config_text(server.server_address[1]))
    env = dict(os.environ, CALLOPS_HOME=str(root / "data"), CALLOPS_CONFIG=str(root / "callops.yml"))
    env.pop("AIRFLOW_HOME", None)
    env.pop("CALLOPS_ALERT_WEBHOOK_URL", None)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_CONFIG", str(root / "callops.yml"))
        tenants = load_config().tenants
    # the same seed writes the same calls: whole files for the history, 30-minute chunks for the last day
    for name, minutes in (("whole", None), ("chunked", 30)):
        simulate(tenants, tenants=2, days=DAYS, start=START, calls_per_day=CALLS_PER_DAY, seed=23, landing=root / name,
                 workers=1, intraday_minutes=minutes, surge=SURGE, progress=None)  # fmt: skip
    files = [
        (pool, path)
        for pool in ("whole", "chunked")
        for path in sorted(p.relative_to(root / pool) for p in (root / pool).rglob("*") if p.is_file())
        if (path.parts[0] == "telephony" and path.parts[2] >= f"{LAST}") == (pool == "chunked")
    ]
    landing = root / "data" / "landing"
    runs, seen = [], set()
    try:
        for cut in CUTS:
            for pool, path in files:
                start = chunk_start(path)
                held = cut is not None and (
                    path.parts[2] > f"{LAST}" or (start is not None and start >= f"{LAST:%Y%m%d}{cut}")
                )
                if path in seen or held:
                    continue  # the last day's later chunks and the next day's tail wait for their run
                (landing / path).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(root / pool / path, landing / path)
                seen.add(path)
            done = subprocess.run([CALLOPS, "run", "--start", START.isoformat(), "--end", TAIL.isoformat()],
                                  env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
            number = len(runs) + 1
            for name, path in (("published", "published/callops.duckdb"), ("build", "warehouse/build.duckdb")):
                if (root / "data" / path).exists():  # what this run left, for the checks of its notices
                    shutil.copy2(root / "data" / path, root / f"{name}_{number}.duckdb")
            runs.append({"returncode": done.returncode, "output": done.stdout + done.stderr,
                         "notices": notices(root / "data"), "published": root / f"published_{number}.duckdb",
                         "build": root / f"build_{number}.duckdb"})  # fmt: skip
    finally:
        server.shutdown()
    return {"root": root, "runs": runs, "hooks": dict(Hooks.received)}


def test_every_run_succeeds_whatever_alerts_it_raised(played):
    for number, run in enumerate(played["runs"], start=1):
        assert run["returncode"] == 0, f"run {number}:\n{run['output'][-3000:]}"


def test_the_run_that_loads_the_surge_raises_one_alert_per_tenant_for_the_surged_queue_and_interval(played):
    first = played["runs"][0]["notices"]
    assert sorted((n["kind"], n["tenant"], n["queue"]) for n in first) == [
        ("service", "east", "general"),
        ("service", "west", "general"),
    ]
    for notice in first:
        assert notice["interval_start"] == f"{LAST}T10:00:00{TENANTS[notice['tenant']]}"
        assert notice["kpi"] in ("service_level_rate", "asa_seconds", "abandon_rate")
        assert notice["breaches"][0] == notice["kpi"]
        assert notice["value"] is not None and notice["threshold"] is not None


def test_the_ladder_has_six_steps_in_order_whose_figures_follow_from_the_data(played):
    """The notice's ladder is the published fct_service_alert_steps; each step's service level is Erlang
    (A with the queue's patience, else C) on the agents, calls and AHT after it; the agents add up from
    those on the queue; the calls and AHT start at the next interval's reforecast in fct_queue_intervals;
    the recommended step is the first whose level reaches the target."""
    first = played["runs"][0]
    for notice in first["notices"]:
        assert [(step["step"], step["action"]) for step in notice["ladder"]] == list(enumerate(ACTIONS, start=1))
        steps = rows(first["published"], "select * from marts.fct_service_alert_steps where tenant_id = ? "
                     "and queue_id = 'general' and interval_start_local = ? order by step",
                     [notice["tenant"], dt.datetime.fromisoformat(notice["interval_start"][:19])])  # fmt: skip
        assert len(steps) == 6
        [episode] = rows(first["published"], "select * from marts.fct_service_alerts where tenant_id = ? "
                         "and queue_id = 'general' and interval_start_at = ?",
                         [notice["tenant"], steps[0]["interval_start_at"]])  # fmt: skip
        agents = episode["agents_before"]
        assert agents >= 1
        for step in steps:
            if step["step"] in (1, 3, 5, 6):
                agents += step["agents"]
            assert step["ladder_agents"] == agents
            expected = staffing.predicted_service_level(
                step["ladder_agents"], step["ladder_calls"], 1800, step["ladder_aht_seconds"],
                step["patience_seconds"], step["service_level_seconds"],
            )  # fmt: skip
            assert step["service_level_after"] == pytest.approx(float(expected), abs=1e-12)
        breaching, following = rows(
            first["build"],
            "select * from marts.fct_queue_intervals where tenant_id = ? and queue_id = 'general' "
            "and interval_start_at in (?, ?) order by interval_start_at",
            [notice["tenant"], steps[0]["interval_start_at"], steps[0]["next_interval_start_at"]],
        )
        assert not following["is_interval_complete"]  # the run loaded the surge as it came
        # the next interval's reforecast, never below what the breaching interval has had so far
        expected_calls = max(following["reforecast_offered_count"], breaching["offered_count"])
        assert steps[0]["ladder_calls"] == pytest.approx(expected_calls)
        reached = [s["step"] for s in steps if s["service_level_after"] >= s["service_level_target"]]
        assert notice["recommended_step"] == (reached[0] if reached else None)
        for step, published in zip(notice["ladder"], steps, strict=True):
            assert step["agents"] == pytest.approx(published["agents"])


def test_the_surge_over_a_recovery_follows_and_nothing_else(played):
    second = played["runs"][1]["notices"]
    recovered = [n for n in second if n["kind"] == "service_recovered"]
    assert sorted((n["tenant"], n["queue"]) for n in recovered) == [("east", "general"), ("west", "general")]
    opened = {(n["tenant"], n["interval_start"]) for n in second if n["kind"] == "service"}
    assert {(n["tenant"], n["interval_start"]) for n in recovered} == opened
    assert played["runs"][2]["notices"] == second  # the rest of the day and its tail: nothing new


def test_each_tenant_webhook_receives_its_own_alerts_only(played):
    hooks = played["hooks"]
    for tenant in TENANTS:
        assert [(n["kind"], n["tenant"]) for n in hooks[tenant]] == [
            ("service", tenant),
            ("service_recovered", tenant),
        ]
