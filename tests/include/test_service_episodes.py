"""Service-alert episodes on a day delivered in chunks (issue 23): a surge on one queue opens one
episode in the run that loads it, a calm queue none, and the episode closes once a calm interval is
complete.

Asia/Shanghai, 30-minute intervals, 20-second service level (target 0.8: the alert is below 0.7), an
alert from 4 offered stints. Queues ``cards`` and ``loans`` each get 6 calls a half hour answered
after 5 s from 08:00, except ``cards`` from 09:00 to 09:30: 12 calls answered after 60 s (service
level 0, ASA 60 s, above 2 x 20 s). The day arrives in two chunks:

- **until 09:45**: 09:00 is complete and breaches; 09:30 holds 6 calm calls but is not complete:
  one open episode for ``cards`` from 09:00, none for ``loans``.
- **until 11:00**: 09:30 is complete and calm: the episode closes there (interval_end_local 09:30).

A second tenant (Europe/Stockholm) has a surge of abandons on its queue the same day, delivered at
once: each tenant's published file holds its own episode only.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import math
from zoneinfo import ZoneInfo

import pytest

from callops import dbt, pipeline, publish, settings, warehouse
from tests.conftest import deliver

pytestmark = pytest.mark.integration

CONFIG = """\
tenants:
  - {id: shanghai_bank, name: Shanghai test bank, timezone: Asia/Shanghai, alert_min_offered: 4}
  - {id: stockholm_telco, name: Stockholm test telco, timezone: Europe/Stockholm, alert_min_offered: 4}
"""
DAY = dt.date(2026, 3, 16)  # a Monday
SHANGHAI, STOCKHOLM = ZoneInfo("Asia/Shanghai"), ZoneInfo("Europe/Stockholm")
TALK = 60
TENANTS = ("shanghai_bank", "stockholm_telco")


def at(zone: ZoneInfo, hour: int, minute: int = 0) -> int:
    """Epoch of a local time of DAY."""
    return int(dt.datetime.combine(DAY, dt.time(hour, minute), tzinfo=zone).timestamp())


def answered(entered: int, callid: str, queue: str, wait: int) -> list[str]:
    return [
        f"{entered}|{callid}|{queue}|NONE|ENTERQUEUE||+8613900000000|1",
        f"{entered + wait}|{callid}|{queue}|PJSIP/101|CONNECT|{wait}|{callid}9|2",
        f"{entered + wait + TALK}|{callid}|{queue}|PJSIP/101|COMPLETECALLER|{wait}|{TALK}|1",
    ]


def abandoned(entered: int, callid: str, queue: str, wait: int) -> list[str]:
    return [
        f"{entered}|{callid}|{queue}|NONE|ENTERQUEUE||+46700000000|1",
        f"{entered + wait}|{callid}|{queue}|NONE|ABANDON|1|1|{wait}",
    ]


def calls(start: int, count: int, step: int, queue: str, prefix: str, wait: int = 5) -> list[str]:
    return [line for k in range(count) for line in answered(start + k * step, f"{prefix}.{k}", queue, wait)]


def half_hours(hour: int, minute: int, count: int, queue: str, prefix: str) -> list[str]:
    """6 calm calls (2 minutes apart, the last at minute 10 of its half hour) in ``count`` half hours."""
    start = at(SHANGHAI, hour, minute)
    return [line for n in range(count) for line in calls(start + n * 1800, 6, 120, queue, f"{prefix}{n}")]


CHUNK_MORNING = (
    half_hours(8, 0, 2, "cards", "c")
    + calls(at(SHANGHAI, 9), 12, 150, "cards", "s", wait=60)  # the surge: 09:00 to 09:30
    + half_hours(9, 30, 1, "cards", "d")
    + half_hours(8, 0, 4, "loans", "l")
    + answered(at(SHANGHAI, 9, 44), "last", "loans", 5)  # the last event: 09:45:05
)
CHUNK_LATE_MORNING = half_hours(10, 0, 2, "cards", "e") + half_hours(10, 0, 2, "loans", "m")
STOCKHOLM_DAY = (
    calls(at(STOCKHOLM, 8), 6, 300, "support", "k")
    + [line for k in range(4) for line in abandoned(at(STOCKHOLM, 8, 30) + k * 300, f"b{k}", "support", 30)]
    + calls(at(STOCKHOLM, 8, 32), 4, 300, "support", "j")
)


def mart_rows(table: str, order: str, database=None, tenant: str | None = None) -> list[dict]:
    with warehouse.connection(database, read_only=True) as con:
        cursor = con.execute(
            f"select * from marts.{table} where tenant_id = coalesce(?, tenant_id) order by {order}", [tenant]
        )
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row)) for row in cursor.fetchall()]


def episodes(database=None, tenant: str | None = None) -> list[dict]:
    return mart_rows("fct_service_alerts", "tenant_id, queue_id, interval_start_at", database, tenant)


def ladder(tenant: str) -> list[dict]:
    return mart_rows("fct_service_alert_steps", "tenant_id, queue_id, interval_start_at, step", tenant=tenant)


def snapshot() -> collections.Counter:
    """The episodes and their ladders, as rows tagged with their table."""
    with warehouse.connection(read_only=True) as con:
        rows = [("episode", *row) for row in con.execute("select * from marts.fct_service_alerts").fetchall()]
        rows += [("step", *row) for row in con.execute("select * from marts.fct_service_alert_steps").fetchall()]
    return collections.Counter(
        tuple(tuple(value) if isinstance(value, list) else round(value, 6) if isinstance(value, float) else value
              for value in row)
        for row in rows
    )  # fmt: skip


def run(run_id: str) -> None:
    pipeline.load_deliveries(run_id, DAY, DAY)
    pipeline.build_marts(run_id)
    pipeline.validate_marts(run_id)
    pipeline.publish_marts(run_id)


@pytest.fixture(scope="module")
def surged(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("episodes")
    (root / "callops.yml").write_text(CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(root / "data"))
        patch.setenv("CALLOPS_CONFIG", str(root / "callops.yml"))
        home = root / "data"
        day = DAY.isoformat()
        deliver(home, "stockholm_telco", day, f"queue_log-{DAY:%Y%m%d}", "\n".join(STOCKHOLM_DAY) + "\n")
        deliver(home, "shanghai_bank", day, f"queue_log-{DAY:%Y%m%d}-0800", "\n".join(CHUNK_MORNING) + "\n")
        run("morning")
        states = {"morning": episodes(tenant="shanghai_bank"), "morning_ladder": ladder("shanghai_bank")}
        deliver(home, "shanghai_bank", day, f"queue_log-{DAY:%Y%m%d}-0945", "\n".join(CHUNK_LATE_MORNING) + "\n")
        run("late_morning")
        states["late_morning"] = episodes(tenant="shanghai_bank")
        states["published"] = episodes(settings.published_db_path())
        states["tenant_files"] = {tenant: episodes(publish.tenant_path(tenant)) for tenant in TENANTS}
        incremental = snapshot()
        assert dbt.build("--full-refresh").success
        yield states | {"incremental": incremental, "full": snapshot()}


def test_a_surge_opens_one_episode_for_its_queue_in_the_run_that_loads_it(surged):
    [episode] = surged["morning"]
    assert episode["queue_id"] == "cards"  # loans stayed calm
    assert f"{episode['interval_start_local']:%H:%M}" == "09:00"
    assert episode["interval_start_at"] == dt.datetime(2026, 3, 16, 1, 0)  # UTC
    assert (episode["kpi_name"], episode["kpi_value"], episode["threshold_value"]) == ("service_level_rate", 0.0, 0.7)
    assert json.loads(episode["breaches"]) == ["service_level_rate", "asa_seconds"]  # ASA 60 s above 2 x 20 s
    # 09:30 is calm (6 calls answered after 5 s) but not complete yet: the episode stays open
    assert episode["is_open"] is True and episode["interval_end_local"] is None and episode["closed_by"] is None


def test_the_ladder_of_a_tenant_with_one_agent_and_no_other_feed(surged):
    """The ladder is for 09:30, not complete at 09:45 and with no forecast (no history): its 6 calls so far,
    fewer than the 12 of 09:00, so 12 calls, at AHT 60 s (talk), no abandon (Erlang C). PJSIP/101 handled
    12 cards calls and 6 loans calls at 09:00: one agent, on cards. Erlang C with 1 agent and 12 x 60 /
    1800 = 0.4 Erlangs: C = 0.4, SL = 1 - 0.4 e^(-0.6 x 20 / 60) = 0.67, below the 0.8 target. No roster,
    offers or IVR: each step brings 0 and says why; loans has no agent to give; no step is recommended."""
    [episode] = surged["morning"]
    expected = 1 - 0.4 * math.exp(-0.6 * 20 / 60)
    assert episode["agents_before"] == 1
    assert episode["service_level_before"] == pytest.approx(expected, abs=1e-12)
    assert episode["next_interval_start_at"] == dt.datetime(2026, 3, 16, 1, 30)
    assert episode["recommended_step"] is None
    steps = surged["morning_ladder"]
    no_ivr = "the telephony format records no IVR (an Asterisk queue_log shows queued calls only)"
    assert [(row["step"], row["action"], row["agents"], row["note"]) for row in steps] == [
        (1, "same_site_agents", 0, "no roster delivered"),
        (2, "ivr_front_service", 0, no_ivr),
        (3, "outbound_agents", 0, "no roster delivered"),
        (4, "pause_cross_selling", 0, "no in-call offers delivered"),
        (5, "cross_site_agents", 0, "no roster delivered"),
        (6, "cross_skill_agents", 0, None),
    ]  # fmt: skip
    for row in steps:
        assert (row["ladder_agents"], row["ladder_calls"], row["ladder_aht_seconds"]) == (1, 12, 60)
        assert row["service_level_after"] == pytest.approx(expected, abs=1e-12)
        assert row["is_target_reached"] is False


def test_the_episode_closes_at_the_first_calm_complete_interval(surged):
    [episode] = surged["late_morning"]
    assert (episode["queue_id"], f"{episode['interval_start_local']:%H:%M}") == ("cards", "09:00")
    assert episode["is_open"] is False and episode["closed_by"] == "recovered"
    assert episode["interval_end_local"] == dt.datetime(2026, 3, 16, 9, 30)
    assert episode["closing_interval_start_at"] == dt.datetime(2026, 3, 16, 1, 30)
    assert episode["breaching_interval_count"] == 1


def test_each_tenant_file_holds_its_own_episodes_only(surged):
    published = surged["published"]
    assert [(e["tenant_id"], e["queue_id"]) for e in published] == [
        ("shanghai_bank", "cards"),
        ("stockholm_telco", "support"),
    ]
    stockholm = published[1]
    # 08:30: 4 answered within 20 s, 4 abandoned after 30 s: service level 4 / 8, abandon rate 4 / 8
    assert (stockholm["kpi_name"], stockholm["kpi_value"]) == ("service_level_rate", 0.5)
    assert json.loads(stockholm["breaches"]) == ["service_level_rate", "abandon_rate"]
    for tenant, rows in surged["tenant_files"].items():
        assert [row["tenant_id"] for row in rows] == [tenant], tenant


def test_the_incremental_build_equals_a_full_one(surged):
    assert surged["incremental"] == surged["full"]
    assert collections.Counter(row[0] for row in surged["full"].elements()) == {"episode": 2, "step": 12}
