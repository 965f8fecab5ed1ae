"""Helpers for the wallboard's tests: small published files made by hand, the pages' KPI tiles read back
(from the HTML, or from a page a real browser loaded), and the mart value each tile must carry.

``open_page`` is for any browser test (tests/include/test_wallboard_browser.py on these hand-made files,
an end-to-end test on a real build): it loads a page from file:// and returns its tiles, console errors,
requests, widths and charts.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import html.parser
import json
import os
import shutil
from pathlib import Path

import duckdb

from callops import wallboard

ALPHA, BETA = "alpha_care", "beta_bank"
NAMES = {ALPHA: "Alpha Care hotline", BETA: "Beta Bank cards line"}
CHROMIUM_INSTALL = "apt-get install -y chromium"
ARTEFACTS_ENV = "CALLOPS_TEST_ARTEFACTS"

# The latest day of each tenant: alpha's latest complete day (2026-03-15) and its partial day after it,
# beta's latest complete day (2026-03-14). Distinct, odd figures, so that a leak of one tenant's figure
# into the other's folder is found by a search for its text.
ALPHA_LATEST = {
    "offered_count": 4817, "answer_rate": 0.9637281, "service_level_rate": 0.72, "abandon_rate": 0.055,
    "asa_seconds": 12.3456789, "aht_seconds": 287.654321, "vip_service_level_rate": 0.5123, "csat_rate": None,
    "qa_score": 0.8519, "fcr_rate": 0.7345,
}
ALPHA_PARTIAL = {
    "offered_count": 1203, "answer_rate": 0.9012, "service_level_rate": 0.6021, "abandon_rate": 0.0987,
    "asa_seconds": 33.3, "aht_seconds": 301.5, "vip_service_level_rate": 0.7011, "csat_rate": 0.811,
    "qa_score": None, "fcr_rate": None,
}
BETA_LATEST = {
    "offered_count": 29573, "answer_rate": 0.9361723, "service_level_rate": 0.8846153846153846,
    "abandon_rate": 0.0711, "asa_seconds": 47.123, "aht_seconds": 333.777, "vip_service_level_rate": 0.9432,
    "csat_rate": 0.8212, "qa_score": 0.7919, "fcr_rate": 0.6616,
}
TARGETS = {
    "service_level_target": 0.8, "answer_rate_target": 0.95, "abandon_rate_target": 0.05,
    "vip_service_level_target": 0.9, "csat_target": 0.8, "qa_score_target": 0.85,
}
DAY_KPIS = tuple(ALPHA_LATEST)
ALPHA_DAY = dt.date(2026, 3, 15)
BETA_DAY = dt.date(2026, 3, 14)
FIRST_DAY = dt.date(2026, 3, 2)


def _daily_rows(beta: dict) -> list[tuple]:
    rows = []
    for tenant, last, latest in ((ALPHA, ALPHA_DAY, ALPHA_LATEST), (BETA, BETA_DAY, beta)):
        day = FIRST_DAY
        n = 0
        while day <= last:
            n += 1
            figures = latest if day == last else {
                "offered_count": 1000 + 37 * n + (500 if tenant == BETA else 0),
                "answer_rate": 0.93 + n / 1000, "service_level_rate": 0.75 + n / 200,
                "abandon_rate": 0.0801 + n / 10000 if tenant == BETA else 0.06 - n / 1000,
                "asa_seconds": 15.0 + n, "aht_seconds": 250.0 + n,
                "vip_service_level_rate": 0.85, "csat_rate": 0.78, "qa_score": 0.84, "fcr_rate": 0.7,
            }
            rows.append((tenant, day, *(figures[name] for name in DAY_KPIS), 20, *TARGETS.values(), True))
            day += dt.timedelta(days=1)
    rows.append((ALPHA, ALPHA_DAY + dt.timedelta(days=1), *ALPHA_PARTIAL.values(), 20, *TARGETS.values(), False))
    return rows


def _intervals(tenant: str, day: dt.date, offset: int) -> list[tuple]:
    """Two queues, eight half-hours from 08:00 local (UTC+8): (offered, answered, abandoned, service level)."""
    figures = {
        "voice": [(40, 38, 2, 0.9), (52, 47, 5, 0.61), (61, 55, 6, 0.55), (0, 0, 0, None),
                  (44, 43, 1, 0.93), (39, 35, 4, 0.58), (33, 33, 0, 0.97), (25, 24, 1, 0.88)],
        "vip": [(9, 9, 0, 1.0), (12, 10, 2, 0.5), (3, 2, 1, None), (8, 8, 0, 0.875),
                (11, 9, 2, 0.6), (7, 7, 0, 0.857), (6, 6, 0, 1.0), (5, 5, 0, 1.0)],
    }
    rows = []
    for queue, slots in figures.items():
        for index, (offered, answered, abandoned, service_level) in enumerate(slots):
            local = dt.datetime.combine(day, dt.time(8)) + dt.timedelta(minutes=30 * index)
            rows.append((
                tenant, queue, local, local - dt.timedelta(hours=8), day, 30, offered + offset, answered, abandoned,
                service_level, 14.5, 240.0, offered + 3, 6 + index % 3, 5.5 + index % 4, True, 0, None, None,
            ))
    return rows


# Alpha's partial day (2026-03-16) by interval, as an intraday load leaves it: the data reaches into the
# 09:30 interval (08:00 to 09:00 complete, 09:30 filling, 10:00 to 11:30 ahead). Per queue and half hour
# from 08:00 local: (offered, service level, forecast, Erlang C agents, logged in, waiting, reforecast
# offered, reforecast Erlang C agents). Offered so far ÷ forecast: voice 153 / 120 = 1.275, vip 30 / 24
# = 1.25, so the rest is reforecast at 1.275 and 1.25 × the forecast; 5 callers still wait (one in the
# complete 09:00 interval). Erlang C agents of the filling and later intervals are of their calls so far
# (0 ahead): the page shows the reforecast's there. Logged in is 0 ahead (no agent states yet).
TODAY = ALPHA_DAY + dt.timedelta(days=1)
TODAY_COMPLETE = 3  # the first three half hours
TODAY_INTERVALS = {
    "voice": [(51, 0.8, 40, 9, 8.5, 0, None, None), (49, 0.62, 40, 10, 9.25, 0, None, None),
              (53, 0.71, 40, 10, 10.0, 1, None, None), (22, 0.5, 40, 5, 9.75, 3, 51.0, 10),
              (0, None, 50, 0, 0.0, 0, 63.75, 12), (0, None, 50, 0, 0.0, 0, 63.75, 12),
              (0, None, 40, 0, 0.0, 0, 51.0, 10), (0, None, 40, 0, 0.0, 0, 51.0, 10)],
    "vip": [(9, 1.0, 8, 3, 2.5, 0, None, None), (11, 0.7273, 8, 3, 3.0, 0, None, None),
            (10, 0.9, 8, 3, 3.0, 0, None, None), (4, 1.0, 8, 2, 2.75, 1, 10.0, 3),
            (0, None, 8, 0, 0.0, 0, 10.0, 3), (0, None, 8, 0, 0.0, 0, 10.0, 3),
            (0, None, 8, 0, 0.0, 0, 10.0, 3), (0, None, 8, 0, 0.0, 0, 10.0, 3)],
}


def _today_intervals() -> list[tuple]:
    rows = []
    for queue, slots in TODAY_INTERVALS.items():
        for index, (offered, service_level, forecast, agents, logged, waiting, reforecast, reforecast_agents) in (
            enumerate(slots)
        ):
            local = dt.datetime.combine(TODAY, dt.time(8)) + dt.timedelta(minutes=30 * index)
            rows.append((
                ALPHA, queue, local, local - dt.timedelta(hours=8), TODAY, 30, offered, offered - waiting, 0,
                service_level, 14.5, 240.0, forecast, agents, logged, index < TODAY_COMPLETE, waiting, reforecast,
                reforecast_agents,
            ))
    return rows


def worst_intervals(tenant: str = ALPHA) -> list[tuple[str, str]]:
    """The five worst of ``_intervals``, worked out by hand: the lowest service level among the intervals
    with calls and a service level (vip 08:30 at 0.5, voice 09:00 at 0.55, voice 10:30 at 0.58,
    vip 10:00 at 0.6, voice 08:30 at 0.61)."""
    return [("vip", "08:30"), ("voice", "09:00"), ("voice", "10:30"), ("vip", "10:00"), ("voice", "08:30")]


# Service-alert episodes (fct_service_alerts, fct_service_alert_steps), following the intervals above with
# the alert thresholds of the targets (service level 0.8 - 0.10 = 0.70, at least 20 offered). UTC is local
# - 8 h. Alpha's partial day (2026-03-16): voice 08:30 (0.62) breaches and 09:00 (0.71, complete) closes it;
# voice 09:30 (0.5, filling) opens the one still open. Its ladder, for 10:00 (reforecast 63.75 calls):
# 9.75 agents logged in now (0.4137 predicted), then the six steps, cumulative; step 5 is the first to
# reach the 0.8 target. The closed episode's ladder (its own figures) is not shown. Alpha's complete day
# and beta's (2026-03-14) each had voice 08:30 to 10:00 (09:30 below the minimum offered neither opens nor
# closes) and 10:30 to 11:00, closed; beta's ladders have figures of their own, shown nowhere.
# (tenant, queue, local start, local end, kpi_name, kpi_value, threshold, recommended step, breaching
# intervals, breaches, closed_by, agents before, service level before)
EPISODES = [
    (ALPHA, "voice", "2026-03-15 08:30", "2026-03-15 10:00", "service_level_rate", 0.61, 0.7, 1, 2,
     '["service_level_rate"]', "recovered", 8.0, 0.6011),
    (ALPHA, "voice", "2026-03-16 08:30", "2026-03-16 09:00", "service_level_rate", 0.62, 0.7, 2, 1,
     '["service_level_rate"]', "recovered", 9.25, 0.6123),
    (ALPHA, "voice", "2026-03-16 09:30", None, "service_level_rate", 0.5, 0.7, 5, 1, '["service_level_rate"]',
     None, 9.75, 0.4137),
    (BETA, "voice", "2026-03-14 08:30", "2026-03-14 10:00", "service_level_rate", 0.61, 0.7, 3, 2,
     '["service_level_rate"]', "recovered", 7.5, 0.5066),
    (BETA, "voice", "2026-03-14 10:30", "2026-03-14 11:00", "service_level_rate", 0.58, 0.7, None, 1,
     '["service_level_rate"]', "recovered", 6.5, 0.4455),
]
# per episode (tenant, local start): each step's (agents, service level after, note)
LADDERS = {
    (ALPHA, "2026-03-16 09:30"): [
        (1.25, 0.5519, None), (0.0, 0.5519, "no IVR in this format: 0 agents rather than a guess"),
        (1.0, 0.6482, None), (0.35, 0.6931, None), (1.5, 0.8264, None), (1.0, 0.9017, None),
    ],
    (ALPHA, "2026-03-16 08:30"): [
        (2.75, 0.8234, None), (0.0, 0.8333, None), (0.0, 0.8444, None), (0.15, 0.8555, None),
        (0.0, 0.8666, None), (0.0, 0.8913, None),
    ],
    (BETA, "2026-03-14 08:30"): [
        (0.5, 0.6157, None), (0.0, 0.6157, None), (2.25, 0.8391, None), (0.2, 0.8547, None), (0.0, 0.8547, None),
        (1.0, 0.9163, None),
    ],
}
LADDER_ACTIONS = ("same_site_agents", "ivr_front_service", "outbound_agents", "pause_cross_selling",
                  "cross_site_agents", "cross_skill_agents")
ALERT_LADDER_COLUMNS = ("agents_before", "service_level_before")


def _episode_rows() -> list[tuple]:
    rows = []
    for (tenant, queue, start, end, kpi, value, threshold, step, count, breaches, closed_by, agents,
         service_level) in EPISODES:
        local = dt.datetime.fromisoformat(start)
        end_local = None if end is None else dt.datetime.fromisoformat(end)
        rows.append((
            tenant, queue, local - dt.timedelta(hours=8), local, end_local, kpi, value, threshold, step, count,
            breaches, closed_by, end is None, local.date(),
            None if end_local is None else end_local - dt.timedelta(hours=8), agents, service_level,
        ))
    return rows


def _step_rows() -> list[tuple]:
    rows = []
    for (tenant, start), steps in LADDERS.items():
        [queue] = [episode[1] for episode in EPISODES if (episode[0], episode[2]) == (tenant, start)]
        local = dt.datetime.fromisoformat(start)
        for step, (action, (agents, service_level, note)) in enumerate(zip(LADDER_ACTIONS, steps), start=1):
            rows.append((tenant, queue, local - dt.timedelta(hours=8), local, step, action, agents, service_level,
                         note, local.date()))
    return rows


INTRADAY_COLUMNS = ("is_interval_complete", "waiting_count", "reforecast_offered_count", "reforecast_erlang_c_agents")
CREATE = {
    "rpt_daily_kpis": """
        create table marts.rpt_daily_kpis (
            tenant_id varchar, kpi_date date, offered_count bigint, answer_rate double, service_level_rate double,
            abandon_rate double, asa_seconds double, aht_seconds double, vip_service_level_rate double,
            csat_rate double, qa_score double, fcr_rate double, service_level_seconds integer,
            service_level_target double, answer_rate_target double, abandon_rate_target double,
            vip_service_level_target double, csat_target double, qa_score_target double, is_day_complete boolean
        )""",
    "fct_queue_intervals": """
        create table marts.fct_queue_intervals (
            tenant_id varchar, queue_id varchar, interval_start_local timestamp, interval_start_at timestamp,
            interval_date date, interval_minutes integer, offered_count bigint, answered_count bigint,
            abandoned_count bigint, service_level_rate double, asa_seconds double, aht_seconds double,
            forecast_offered_count double, erlang_c_agents double, logged_in_agents double,
            is_interval_complete boolean, waiting_count bigint, reforecast_offered_count double,
            reforecast_erlang_c_agents double
        )""",
    "rpt_kpis_by_period": """
        create table marts.rpt_kpis_by_period (
            tenant_id varchar, period_grain varchar, period_start date, offered_count bigint, answer_rate double,
            service_level_rate double, common_service_level_rate double, abandon_rate double, asa_seconds double,
            aht_seconds double, csat_rate double, qa_score double, fcr_rate double, service_level_target double,
            answer_rate_target double, abandon_rate_target double, csat_target double, qa_score_target double,
            qa_score_previous_period double, qa_score_previous_year double, csat_rate_previous_period double,
            csat_rate_previous_year double, is_period_complete boolean
        )""",
    "rpt_tenant_benchmark": """
        create table marts.rpt_tenant_benchmark (
            period_grain varchar, period_start date, tenant_id varchar, kpi_name varchar, kpi_value double,
            tenant_rank bigint, tenants_ranked bigint, tenants_with_value bigint, center_median double,
            center_p25 double, center_p75 double, center_best double, is_center_shareable boolean,
            is_period_complete boolean, is_higher_better boolean
        )""",
    "fct_campaign_daily": """
        create table marts.fct_campaign_daily (
            tenant_id varchar, campaign_id varchar, offer_date date, campaign_name varchar, offer_count bigint,
            accepted_count bigint, revenue double, cost double, roi double, revenue_trailing_7d double,
            cost_trailing_7d double, roi_trailing_7d double, roi_pause_threshold double,
            is_pause_recommended boolean
        )""",
    "fct_service_alerts": """
        create table marts.fct_service_alerts (
            tenant_id varchar, queue_id varchar, interval_start_at timestamp, interval_start_local timestamp,
            interval_end_local timestamp, kpi_name varchar, kpi_value double, threshold_value double,
            recommended_step integer, breaching_interval_count bigint, breaches varchar, closed_by varchar,
            is_open boolean, episode_date date, closing_interval_start_at timestamp, agents_before double,
            service_level_before double
        )""",
    "fct_service_alert_steps": """
        create table marts.fct_service_alert_steps (
            tenant_id varchar, queue_id varchar, interval_start_at timestamp, interval_start_local timestamp,
            step integer, action varchar, agents double, service_level_after double, note varchar,
            episode_date date
        )""",
}


def _fill(
    con: duckdb.DuckDBPyConnection, tables: tuple[str, ...], beta: dict, intraday: bool, ladder: bool
) -> None:
    con.execute("create schema marts")
    for table in tables:
        con.execute(CREATE[table])
    con.executemany(f"insert into marts.rpt_daily_kpis values ({', '.join(['?'] * 20)})", _daily_rows(beta))
    if "fct_queue_intervals" in tables:
        con.executemany(
            f"insert into marts.fct_queue_intervals values ({', '.join(['?'] * 19)})",
            _intervals(ALPHA, ALPHA_DAY, 0) + _intervals(BETA, BETA_DAY, 7) + _today_intervals(),
        )
        if not intraday:  # as the release before the intraday loads published it
            for column in INTRADAY_COLUMNS:
                con.execute(f"alter table marts.fct_queue_intervals drop column {column}")
    if "rpt_kpis_by_period" in tables:
        con.execute("""
            insert into marts.rpt_kpis_by_period
            select tenant_id, 'week', date_trunc('week', kpi_date)::date, sum(offered_count), avg(answer_rate),
                avg(service_level_rate), avg(service_level_rate) - 0.01, avg(abandon_rate), avg(asa_seconds),
                avg(aht_seconds), avg(csat_rate), avg(qa_score), avg(fcr_rate), 0.8, 0.95, 0.05, 0.8, 0.85,
                null, null, null, null,
                max(kpi_date) = date_trunc('week', kpi_date)::date + 6 and bool_and(is_day_complete)
            from marts.rpt_daily_kpis group by tenant_id, date_trunc('week', kpi_date)
        """)
        con.execute("""
            insert into marts.rpt_kpis_by_period values
            ('alpha_care', 'month', '2026-03-01', 61234, 0.951, 0.7812, 0.7701, 0.0499, 14.25, 280.5, 0.7777,
             0.8612, 0.7021, 0.8, 0.95, 0.05, 0.8, 0.85, 0.8244, null, 0.8101, null, false),
            ('beta_bank', 'month', '2026-03-01', 93321, 0.9391, 0.8733, 0.8519, 0.0612, 40.75, 310.25, 0.8414,
             0.7731, 0.6677, 0.8, 0.95, 0.05, 0.8, 0.85, 0.7561, 0.7302, 0.8302, 0.8002, false)
        """)
    if "rpt_tenant_benchmark" in tables:
        con.execute("""
            insert into marts.rpt_tenant_benchmark values
            ('day', '2026-03-14', 'alpha_care', 'common_service_level_rate', 0.7899, 2, 2, 2, 0.8342, 0.8121,
             0.8563, 0.8785, false, true, true),
            ('day', '2026-03-14', 'beta_bank', 'common_service_level_rate', 0.8785, 1, 2, 2, 0.8342, 0.8121,
             0.8563, 0.8785, false, true, true),
            ('day', '2026-03-14', 'alpha_care', 'abandon_rate', 0.0457, 1, 2, 2, 0.0584, 0.0521, 0.0647, 0.0457,
             false, true, false),
            ('day', '2026-03-14', 'beta_bank', 'abandon_rate', 0.0711, 2, 2, 2, 0.0584, 0.0521, 0.0647, 0.0457,
             false, true, false),
            ('day', '2026-03-15', 'alpha_care', 'common_service_level_rate', 0.7031, 1, 1, 1, 0.7031, 0.7031,
             0.7031, 0.7031, false, true, true),
            ('month', '2026-03-01', 'alpha_care', 'qa_score', 0.8612, 1, 2, 2, 0.8171, 0.7951, 0.8392, 0.8612,
             false, false, true)
        """)
    if "fct_service_alerts" in tables:
        con.executemany(f"insert into marts.fct_service_alerts values ({', '.join(['?'] * 17)})", _episode_rows())
        if not ladder:  # as the release before the dispatch ladder published it
            for column in ALERT_LADDER_COLUMNS:
                con.execute(f"alter table marts.fct_service_alerts drop column {column}")
            con.execute("update marts.fct_service_alerts set recommended_step = null")
    if "fct_service_alert_steps" in tables:
        con.executemany(f"insert into marts.fct_service_alert_steps values ({', '.join(['?'] * 10)})", _step_rows())
    if "fct_campaign_daily" in tables:
        con.execute("""
            insert into marts.fct_campaign_daily values
            ('alpha_care', 'gold', '2026-03-14', 'Gold card upgrade', 40, 6, 300.0, 480.0, 0.625, 2100.0, 3390.0,
             0.6195, 1.0, true),
            ('alpha_care', 'gold', '2026-03-15', 'Gold card upgrade', 38, 5, 250.0, 470.0, 0.5319, 2050.0,
             3380.0, 0.6065, 1.0, true),
            ('alpha_care', 'travel', '2026-03-15', 'Travel insurance', 22, 9, 900.0, 310.0, 2.9032, 5400.0,
             2170.0, 2.4885, 1.0, false),
            ('beta_bank', 'cashback', '2026-03-14', 'Cashback plus', 51, 12, 1500.0, 610.0, 2.459, 9100.0,
             4270.0, 2.1311, 1.0, false)
        """)


def build(folder: Path, tables: tuple[str, ...] = tuple(CREATE), beta: dict | None = None,
          intraday: bool = True, ladder: bool = True) -> dict:
    """The center file and each tenant's file under ``folder``, as a publish leaves them: the tenant's
    rows alone, and its benchmark rows masked (no rank, no center figure: two tenants are fewer than 5).
    ``beta``: other figures for beta's latest day; ``intraday`` false: fct_queue_intervals without the
    intraday columns (INTRADAY_COLUMNS), as an earlier release published it; ``ladder`` false:
    fct_service_alerts without its ladder columns (ALERT_LADDER_COLUMNS, recommended_step null) and no
    fct_service_alert_steps, as the release before the dispatch ladder published them. Returns
    {"center": path, "tenants": {id: path}}."""
    if not ladder:
        tables = tuple(table for table in tables if table != "fct_service_alert_steps")
    folder.mkdir(parents=True, exist_ok=True)
    center = folder / "callops.duckdb"
    with duckdb.connect(str(center)) as con:
        _fill(con, tables, BETA_LATEST | (beta or {}), intraday, ladder)
    tenants = {}
    for tenant in (ALPHA, BETA):
        path = folder / "tenants" / f"{tenant}.duckdb"
        path.parent.mkdir(exist_ok=True)
        with duckdb.connect(str(path)) as con:
            con.execute(f"attach '{center}' as center (read_only)")
            con.execute("create schema marts")
            for table in tables:
                masked = (
                    " replace (null::bigint as tenant_rank, null::bigint as tenants_ranked, null::double as "
                    "center_median, null::double as center_p25, null::double as center_p75, null::double as "
                    "center_best)" if table == "rpt_tenant_benchmark" else ""
                )
                con.execute(
                    f"create table marts.{table} as select *{masked} from center.marts.{table} where tenant_id = ?",
                    [tenant],
                )
        tenants[tenant] = path
    return {"center": center, "tenants": tenants}


# --- reading the pages back --------------------------------------------------------------------------


class _Page(html.parser.HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.kpis: list[dict] = []
        self.charts: list[str] = []
        self.links: list[str] = []
        self.rows: list[dict] = []
        self.sections: list[dict] = []
        self.episodes: list[dict] = []
        self.steps: list[dict] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if "data-kpi" in attributes:
            self.kpis.append({name.removeprefix("data-"): value for name, value in attributes.items()
                              if name.startswith("data-")} | {"class": attributes.get("class", "")})
        if "data-chart" in attributes:
            self.charts.append(attributes["data-chart"])
        for name in ("src", "href"):
            if name in attributes:
                self.links.append(attributes[name])
        if tag == "tr" and "data-interval" in attributes:
            self.rows.append(attributes)
        if "data-section" in attributes:
            self.sections.append({name.removeprefix("data-"): value for name, value in attributes.items()
                                  if name.startswith("data-")})
        if "data-episode" in attributes:
            self.episodes.append({name.removeprefix("data-"): value for name, value in attributes.items()
                                  if name.startswith("data-")})
        if tag == "tr" and "data-step" in attributes:
            self.steps.append({name.removeprefix("data-"): value for name, value in attributes.items()
                               if name.startswith("data-")})


def read_page(path: Path) -> _Page:
    """A page's KPI elements (their data-* attributes, without the prefix), charts, links, interval rows,
    sections with data-* attributes (``data-section``: its name), service-alert episodes (``data-episode``:
    open or closed) and their ladders' steps (``data-step``), with their data-* attributes."""
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def chart_rows(path: Path) -> dict[str, list[dict]]:
    """Each chart's rows as the page embeds them (its Vega-Lite spec's data), by chart name."""
    text = path.read_text(encoding="utf-8")
    embedded = text.split('<script type="application/json" id="wallboard-data">', 1)[1].split("</script>", 1)[0]
    return {name: spec["data"]["values"] for name, spec in json.loads(embedded)["charts"].items()}


def mart_value(published: Path, kpi: dict) -> str:
    """What ``kpi`` (a tile's data-* attributes) must carry: its mart's value in ``published`` as
    data-value writes it (day: rpt_daily_kpis; week, month: rpt_kpis_by_period; episode: the kpi_value
    of fct_service_alerts' row of its tenant, queue and first interval, the KPI its kpi_name)."""
    name = kpi["kpi"]
    assert name.replace("_", "").isalnum(), name
    with duckdb.connect(str(published), read_only=True) as con:
        if kpi["grain"] == "episode":
            rows = con.execute(
                "select kpi_value from marts.fct_service_alerts where tenant_id = ? and queue_id = ? "
                "and interval_start_at = ? and episode_date = ? and kpi_name = ?",
                # read from the HTML (data-interval-start) or by a browser (dataset.intervalStart)
                [kpi["tenant"], kpi["queue"], kpi.get("interval-start") or kpi.get("intervalStart"), kpi["date"],
                 name],
            ).fetchall()
        elif kpi["grain"] == "day":
            rows = con.execute(
                f"select {name} from marts.rpt_daily_kpis where tenant_id = ? and kpi_date = ?",
                [kpi["tenant"], kpi["date"]],
            ).fetchall()
        else:
            rows = con.execute(
                f"select {name} from marts.rpt_kpis_by_period where tenant_id = ? and period_grain = ? "
                "and period_start = ?",
                [kpi["tenant"], kpi["grain"], kpi["date"]],
            ).fetchall()
    assert len(rows) == 1, (kpi, rows)
    return wallboard.machine_value(rows[0][0])


def latest_complete_days(published: Path) -> dict[str, str]:
    """Each tenant's latest complete day in ``published``: its own max(kpi_date) where is_day_complete."""
    with duckdb.connect(str(published), read_only=True) as con:
        return {
            tenant: day.isoformat()
            for tenant, day in con.execute(
                "select tenant_id, max(kpi_date) from marts.rpt_daily_kpis where is_day_complete group by 1"
            ).fetchall()
        }


# --- in a browser ------------------------------------------------------------------------------------


def chromium() -> str | None:
    """Debian's chromium (or Ubuntu's name for it), or None."""
    return shutil.which("chromium") or shutil.which("chromium-browser")


@contextlib.contextmanager
def launched_chromium():
    """Debian's chromium, headless, driven by playwright; the test skips, naming the install command,
    where it is not installed."""
    import pytest

    executable = chromium()
    if executable is None:
        pytest.skip(f"chromium is not installed: `{CHROMIUM_INSTALL}` (as root) runs the browser tests")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def artefacts_dir(default: Path) -> Path:
    """Where a browser test keeps its screenshots: $CALLOPS_TEST_ARTEFACTS, else ``default``."""
    folder = Path(os.environ.get(ARTEFACTS_ENV) or default)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


DRAWN = "() => [...document.querySelectorAll('[data-chart]')].every(e => e.querySelector('svg, canvas'))"
MEASURE = """() => ({
    kpis: [...document.querySelectorAll('[data-kpi]')].map(e => ({...e.dataset, text: e.innerText})),
    scrollWidth: document.documentElement.scrollWidth,
    innerWidth: window.innerWidth,
    valueFontPx: [...document.querySelectorAll('.tile .value')].map(e => parseFloat(getComputedStyle(e).fontSize)),
    charts: [...document.querySelectorAll('[data-chart]')].map(e => ({
        name: e.dataset.chart, drawn: !!e.querySelector('svg, canvas'),
        dashed: e.querySelectorAll('svg [stroke-dasharray]').length,
    })),
    sections: [...document.querySelectorAll('[data-section]')].map(e => ({...e.dataset, text: e.innerText})),
    text: document.body.innerText,
    steps: [...document.querySelectorAll('[data-step]')].map(e => ({
        ...e.dataset, text: e.innerText, background: getComputedStyle(e.querySelector('td')).backgroundColor,
    })),
})"""


def open_page(browser, path: Path, width: int, height: int, screenshot: Path | None = None) -> dict:
    """Load ``path`` from file:// at ``width`` x ``height`` in ``browser`` (playwright), wait for its charts,
    and return: kpis (each KPI element's data-* without the prefix, and its text), console_errors (console
    errors and uncaught exceptions), requests (every URL the page asked for), scrollWidth, innerWidth,
    valueFontPx (each tile value's font size), charts (name, drawn, dashed: its SVG elements drawn dashed),
    sections (each data-section element's data-* and text), text (the page's, as shown) and steps (each
    service-alert ladder step's data-*, text and its cells' background colour). ``screenshot``: a
    full-page PNG."""
    context = browser.new_context(viewport={"width": width, "height": height})
    page = context.new_page()
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.on("request", lambda request: requests.append(request.url))
    try:
        page.goto(path.resolve().as_uri(), wait_until="load")
        # a chart not drawn by then is in the measure (drawn: false): the test names it
        with contextlib.suppress(Exception):
            page.wait_for_function(DRAWN, timeout=20_000)
        measured = page.evaluate(MEASURE)
        if screenshot is not None:
            page.screenshot(path=str(screenshot), full_page=True)
    finally:
        context.close()
    return measured | {"console_errors": errors, "requests": requests}
