"""A partial day: the few calls of the next local day that a queue_log rotated after midnight holds.

Two weeks and a day of full days (40 calls each, Asia/Shanghai) are delivered as one queue_log per
delivery day; the last one, rotated a few minutes after local midnight, also holds two calls of the
next day. That day is partial (``is_day_complete`` false): the run publishes, with its targets and
forecast accuracy null, and the volume band does not block it for being small. Once telephony of a
later delivery day is loaded (here twelve days later, after an outage) it is complete, and, still
tiny, the band blocks it; the incremental build that found it equals a full build. A partial day
above the band blocks, and a day still partial at its publish deadline is alerted as partial.
"""

from __future__ import annotations

import collections
import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from callops import alerts, dbt, pipeline, scheduling, settings, warehouse
from callops.config import load_config
from tests.conftest import TEST_CONFIG, deliver

pytestmark = pytest.mark.integration

TENANT = "shanghai_bank"
ZONE = ZoneInfo("Asia/Shanghai")
DAYS = [dt.date(2026, 3, 2) + dt.timedelta(days=n) for n in range(15)]  # Monday 2 to Monday 16 March
SPILLOVER_DAY = dt.date(2026, 3, 17)  # a Tuesday: Tuesdays 3 and 10 March hold 40 calls each
LATER_DAY = dt.date(2026, 3, 29)  # the next delivery after an outage, 12 days on
CALLS_PER_DAY = 40
UTC = dt.UTC


def at(day: dt.date, minutes: int) -> int:
    """Epoch of ``minutes`` after the tenant's local midnight of ``day``."""
    return int((dt.datetime.combine(day, dt.time(), tzinfo=ZONE) + dt.timedelta(minutes=minutes)).timestamp())


def call(entered: int, number: int) -> list[str]:
    """One answered call as queue_log lines: a 5 s wait, 60 s of talk."""
    callid = f"{entered}.{number}"
    return [
        f"{entered}|{callid}|cards|NONE|ENTERQUEUE||+86139{number:08d}|1",
        f"{entered + 5}|{callid}|cards|PJSIP/{100 + number % 50}|CONNECT|5|{callid}9|2",
        f"{entered + 65}|{callid}|cards|PJSIP/{100 + number % 50}|COMPLETECALLER|5|60|1",
    ]


def full_day(day: dt.date) -> list[str]:
    """40 calls from 00:10 to 23:34 local: the day's data reaches its last interval (23:30)."""
    return [line for i in range(CALLS_PER_DAY) for line in call(at(day, 10 + 36 * i), i)]


def early_calls(day: dt.date, count: int) -> list[str]:
    """``count`` calls from 00:01 local, a minute apart: what a log rotated after midnight holds."""
    return [line for i in range(count) for line in call(at(day, 1 + i), 500 + i)]


def deliver_log(home: Path, day: dt.date, lines: list[str]) -> Path:
    return deliver(home, TENANT, day.isoformat(), "queue_log", "\n".join(lines) + "\n")


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def kpis(day: dt.date, database: Path | None = None) -> dict:
    with warehouse.connection(database, read_only=True) as con:
        cursor = con.execute("select * from marts.rpt_daily_kpis where tenant_id = ? and kpi_date = ?", [TENANT, day])
        names = [column[0] for column in cursor.description]
        rows = cursor.fetchall()
    assert len(rows) == 1, f"{TENANT} {day}: {len(rows)} rows"
    return dict(zip(names, rows[0]))


def forecast_accuracy(day: dt.date) -> list[tuple]:
    return query(
        "select is_day_complete, actual_offered_count, volume_absolute_error, volume_wape, naive_volume_wape, "
        "aht_wape from marts.fct_forecast_accuracy_daily where tenant_id = ? and forecast_date = ?",
        [TENANT, day],
    )


def snapshot(table: str) -> collections.Counter:
    # floats rounded: DuckDB's parallel sums may differ in the last bits between two builds
    return collections.Counter(
        tuple(round(value, 6) if isinstance(value, float) else value for value in row)
        for row in query(f"select * from marts.{table}")
    )


def run(run_id: str, start: dt.date, end: dt.date, publish: bool = True) -> dict:
    """One pipeline run in process: load, the (incremental) build, the gate, publish."""
    pipeline.load_deliveries(run_id, start, end)
    built = pipeline.build_marts(run_id)
    checked = pipeline.validate_marts(run_id)
    if publish:
        pipeline.publish_marts(run_id)
    return {"plan": built["plan"], "warnings": checked["warnings"]}


TARGETS_MET = (
    "is_service_level_target_met",
    "is_answer_rate_target_met",
    "is_abandon_rate_target_met",
    "is_vip_service_level_target_met",
    "is_csat_target_met",
    "is_qa_score_target_met",
)
DEADLINE_CONFIG = f"tenants:\n  - {{id: {TENANT}, name: S, timezone: Asia/Shanghai, publish_deadline: '08:00'}}\n"


def deadline_alerts(tmp_path: Path, day: dt.date) -> list[dict]:
    """The deadline watch once ``day``'s deadline has passed, watched from before. The deadline is
    taken as just now (what ran before it, ran in time), named as callops.yml's 08:00 local."""
    (tmp_path / "deadline.yml").write_text(DEADLINE_CONFIG)
    config = load_config(tmp_path / "deadline.yml")
    deadline = dt.datetime.now(UTC) + dt.timedelta(minutes=1)
    state = scheduling.deadline_state_path()
    state.parent.mkdir(parents=True, exist_ok=True)
    state.write_text('{"watching_since": "2000-01-01T00:00:00+00:00"}')
    sent: list[dict] = []
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(alerts, "send", lambda alert: sent.append(alert) or {"logged": True})
        patch.setattr(scheduling, "last_deadline", lambda tenant, now: (day, deadline))
        due = scheduling.check_deadlines(deadline + dt.timedelta(minutes=5), config)
    assert due == sent
    return sent


@pytest.fixture(scope="module")
def partial(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("partial")
    (root / "callops.yml").write_text(TEST_CONFIG)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CALLOPS_HOME", str(root / "data"))
        patch.setenv("CALLOPS_CONFIG", str(root / "callops.yml"))
        home = root / "data"
        for day in DAYS[:-1]:
            deliver_log(home, day, full_day(day))
        # the last log rotated at 00:05 the next morning: two calls of the next local day
        deliver_log(home, DAYS[-1], full_day(DAYS[-1]) + early_calls(SPILLOVER_DAY, 2))
        first = run("history", DAYS[0], DAYS[-1])
        published = {day: kpis(day, settings.published_db_path()) for day in (DAYS[-1], SPILLOVER_DAY)}
        accuracy = {day: forecast_accuracy(day) for day in (DAYS[-1], SPILLOVER_DAY)}
        alerted = deadline_alerts(root, SPILLOVER_DAY)

        # an outage: the next telephony delivered is that of 29 March
        deliver_log(home, LATER_DAY, full_day(LATER_DAY))
        with pytest.raises(pipeline.DataProblem) as blocked:
            run("after_outage", LATER_DAY, LATER_DAY)
        later = {"plan": query("select detail->>'plan' from ops.run_steps where run_id = 'after_outage' "
                               "and step = 'build'")[0][0],
                 "message": str(blocked.value), "spillover": kpis(SPILLOVER_DAY),
                 "accuracy": forecast_accuracy(SPILLOVER_DAY),
                 "incremental": {table: snapshot(table)
                                 for table in ("rpt_daily_kpis", "fct_forecast_accuracy_daily")}}  # fmt: skip
        assert dbt.build("--full-refresh").success
        full = {table: snapshot(table) for table in ("rpt_daily_kpis", "fct_forecast_accuracy_daily")}
        yield {"first": first, "published": published, "accuracy": accuracy, "alerted": alerted,
               "later": later, "full": full}  # fmt: skip


def test_a_spillover_day_publishes_as_partial_with_targets_and_forecast_accuracy_null(partial):
    assert partial["first"]["plan"].startswith("full build")
    last, spillover = partial["published"][DAYS[-1]], partial["published"][SPILLOVER_DAY]
    # 2 calls where the same weekday had 40: published, not blocked by the volume band
    assert spillover["offered_count"] == 2 and spillover["answered_count"] == 2
    assert spillover["is_day_complete"] is False
    assert {column: spillover[column] for column in TARGETS_MET} == dict.fromkeys(TARGETS_MET)
    assert spillover["forecast_wape"] is None
    # its own figures stand: every call answered within 5 s
    assert spillover["answer_rate"] == 1.0 and spillover["service_level_rate"] == 1.0
    # the day before reaches past its last interval: complete, with its targets and forecast accuracy
    assert last["offered_count"] == CALLS_PER_DAY and last["is_day_complete"] is True
    assert last["is_answer_rate_target_met"] is True and last["is_service_level_target_met"] is True
    assert last["forecast_wape"] is not None
    # the forecast accuracy mart: the partial day keeps its count, not its error
    [(complete, actual, error, wape, naive_wape, _)] = partial["accuracy"][DAYS[-1]]
    assert complete is True and actual == CALLS_PER_DAY and error is not None and wape is not None
    assert partial["accuracy"][SPILLOVER_DAY] == [(False, 2, None, None, None, None)]


def test_a_later_delivery_day_completes_the_spillover_day_and_the_band_then_blocks_it(partial):
    later = partial["later"]
    assert later["plan"].startswith("incremental build")
    spillover = later["spillover"]
    assert spillover["offered_count"] == 2 and spillover["is_day_complete"] is True
    assert spillover["is_answer_rate_target_met"] is True
    message = later["message"]
    assert "nothing published" in message
    assert "expect_column_values_to_be_in_set on is_volume_within_blocking_band" in message
    assert f"{TENANT} {SPILLOVER_DAY}" in message and f"{TENANT} {LATER_DAY}" not in message
    # its forecast accuracy is published with it now (actuals 2 against a forecast of about 40)
    [(complete, actual, error, wape, _, _)] = later["accuracy"]
    assert complete is True and actual == 2 and error > 30 and wape == pytest.approx(error / actual)


def test_the_incremental_build_that_completed_the_day_equals_a_full_build(partial):
    incremental, full = partial["later"]["incremental"], partial["full"]
    assert sum(full["rpt_daily_kpis"].values()) == len(DAYS) + 2
    for table in full:
        assert incremental[table] == full[table], table


def test_a_day_still_partial_at_its_publish_deadline_is_alerted_as_partial(partial):
    [alert] = partial["alerted"]
    assert (alert["tenant"], alert["day"], alert["check"]) == (TENANT, SPILLOVER_DAY.isoformat(), "publish_deadline")
    assert alert["is_day_complete"] is False
    assert "no delivery of that day was loaded" in alert["message"]
    assert "the day is partial" in alert["message"] and "00:03 Asia/Shanghai" in alert["message"]
    assert "partial" in alert["text"]


def test_a_day_published_on_time_but_partial_raises_the_deadline_alert(home, tmp_path):
    day = DAYS[0]
    # the log was rotated at 14:00: the day's own delivery, published long before its deadline
    deliver_log(home, day, [line for i in range(10) for line in call(at(day, 9 * 60 + 30 * i), i)])
    run("truncated", day, day)
    assert kpis(day, settings.published_db_path())["is_day_complete"] is False
    [alert] = deadline_alerts(tmp_path, day)
    assert alert["is_day_complete"] is False
    assert alert["text"].startswith(
        f"callops deadline missed: tenant {TENANT}, day {day} published but still partial at 08:00 Asia/Shanghai"
    )
    assert "the day is partial" in alert["message"] and "13:31 Asia/Shanghai" in alert["message"]
    assert "before the day's last interval (23:30)" in alert["message"]


def test_a_partial_day_above_the_band_blocks(home):
    for day in DAYS[:-1]:
        deliver_log(home, day, full_day(day))
    # 130 calls in the first 130 minutes of the next day where its weekday had 40: never legitimate
    deliver_log(home, DAYS[-1], full_day(DAYS[-1]) + early_calls(SPILLOVER_DAY, 130))
    with pytest.raises(pipeline.DataProblem) as blocked:
        run("too_many", DAYS[0], DAYS[-1])
    assert "is_volume_within_blocking_band" in str(blocked.value) and f"{TENANT} {SPILLOVER_DAY}" in str(blocked.value)
    spillover = kpis(SPILLOVER_DAY)
    assert spillover["offered_count"] == 130 and spillover["is_day_complete"] is False
