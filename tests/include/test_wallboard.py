"""The wallboard (issue 21): tiles that carry the marts' values, colours by the rule, a tenant's folder
that holds nothing of another tenant, the atomic swap and its file modes, files of an earlier release,
`callops wallboard` and its server. The published files are made by hand (tests/wallboard_pages.py)."""

from __future__ import annotations

import datetime as dt
import grp
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import duckdb
import pytest

import callops
from callops import cli, private, settings, wallboard
from tests import wallboard_pages as pages
from tests.wallboard_pages import ALPHA, BETA, NAMES


@pytest.fixture
def published(tmp_path: Path) -> dict:
    return pages.build(tmp_path / "published")


def write(published: dict, out: Path) -> dict:
    return wallboard.write(published["center"], published["tenants"], out, names=NAMES)


def by_kpi(kpis: list[dict], **where) -> dict[str, dict]:
    return {kpi["kpi"]: kpi for kpi in kpis if all(kpi.get(key) == value for key, value in where.items())}


# --- tiles ---------------------------------------------------------------------------------------------


def test_every_tile_carries_its_marts_value_unrounded_and_its_day(published, tmp_path):
    out = tmp_path / "wallboard"
    done = write(published, out)
    assert done["pages"] == ["index.html", f"{ALPHA}/index.html", f"{BETA}/index.html"]

    # each tenant's own latest complete day: alpha's partial 2026-03-16 is not it, beta's is a day earlier
    assert pages.latest_complete_days(published["center"]) == {ALPHA: "2026-03-15", BETA: "2026-03-14"}
    center = pages.read_page(out / "index.html")
    assert sorted((kpi["tenant"], kpi["kpi"], kpi["date"], kpi["grain"]) for kpi in center.kpis) == sorted(
        (tenant, name, day, "day")
        for tenant, day in ((ALPHA, "2026-03-15"), (BETA, "2026-03-14"))
        for name in ("offered_count", "answer_rate", "service_level_rate", "abandon_rate", "asa_seconds")
    )
    for kpi in center.kpis:
        assert kpi["value"] == pages.mart_value(published["center"], kpi), kpi

    alpha = pages.read_page(out / ALPHA / "index.html")
    day = [kpi for kpi in alpha.kpis if kpi["grain"] == "day" and "partial" not in kpi]
    assert [(kpi["kpi"], kpi["date"]) for kpi in day] == [
        (name, "2026-03-15") for name in (
            "offered_count", "answer_rate", "service_level_rate", "abandon_rate", "asa_seconds", "aht_seconds",
            "vip_service_level_rate", "csat_rate", "qa_score", "fcr_rate",
        )
    ]
    # the values as the mart holds them, by hand: unrounded, an int's digits, empty for null
    assert {kpi["kpi"]: kpi["value"] for kpi in day} == {
        "offered_count": "4817", "answer_rate": "0.9637281", "service_level_rate": "0.72", "abandon_rate": "0.055",
        "asa_seconds": "12.3456789", "aht_seconds": "287.654321", "vip_service_level_rate": "0.5123",
        "csat_rate": "", "qa_score": "0.8519", "fcr_rate": "0.7345",
    }
    # every KPI element of every tenant's page (day, partial day, weeks, month) equals its mart in ITS file
    for tenant in (ALPHA, BETA):
        page = pages.read_page(out / tenant / "index.html")
        assert {kpi["tenant"] for kpi in page.kpis} == {tenant}
        for kpi in page.kpis:
            assert kpi["value"] == pages.mart_value(published["tenants"][tenant], kpi), kpi
    month = by_kpi(alpha.kpis, grain="month")
    assert {name: (kpi["date"], kpi["value"]) for name, kpi in month.items()} == {
        "qa_score": ("2026-03-01", "0.8612"), "csat_rate": ("2026-03-01", "0.7777"),
    }
    weeks = [kpi for kpi in alpha.kpis if kpi["grain"] == "week"]
    assert sorted({kpi["date"] for kpi in weeks}) == ["2026-03-02", "2026-03-09"]


def test_the_tiles_text_is_rounded_for_people():
    assert [wallboard.shown(value, unit) for value, unit in (
        (4817, "count"), (0.9637281, "rate"), (0.72, "rate"), (12.3456789, "seconds"), (287.654321, "seconds"),
        (None, "rate"), (99.96, "seconds"), (100.4, "seconds"),
    )] == ["4,817", "96.4%", "72.0%", "12.3 s", "4:48", "–", "100.0 s", "1:40"]
    assert [wallboard.machine_value(value) for value in (4817, 0.1 + 0.2, None, float("nan"))] == [
        "4817", "0.30000000000000004", "", ""
    ]


def test_a_partial_latest_day_shows_as_today_so_far_with_its_tiles_marked(published, tmp_path):
    out = tmp_path / "wallboard"
    write(published, out)
    partial = [kpi for kpi in pages.read_page(out / ALPHA / "index.html").kpis if kpi.get("partial") == "true"
               and kpi["grain"] == "day"]
    assert {kpi["date"] for kpi in partial} == {"2026-03-16"}
    assert len(partial) == 10
    assert {kpi["status"] for kpi in partial} == {"neutral"}  # a day not over has not met or missed a target
    assert by_kpi(partial)["offered_count"]["value"] == "1203"
    assert "Today so far" in (out / ALPHA / "index.html").read_text()
    # beta's latest day is complete: no such section
    beta = pages.read_page(out / BETA / "index.html")
    assert not [kpi for kpi in beta.kpis if kpi["grain"] == "day" and kpi.get("partial")]
    assert "Today so far" not in (out / BETA / "index.html").read_text()


TODAY_CHARTS = ("today_volume", "today_service_level", "today_agents")


def today_from_the_mart(path: Path, day: str) -> dict:
    """What the today section must show, from the tenant's file by SQL: the first interval not complete,
    the callers still waiting, the reforecast of the rest, and each chart's rows (summed over queues)."""
    with duckdb.connect(str(path), read_only=True) as con:
        first, waiting, reforecast = con.execute(
            "select min(interval_start_at) filter (where not is_interval_complete), sum(waiting_count), "
            "sum(reforecast_offered_count) from marts.fct_queue_intervals where interval_date = ?",
            [day],
        ).fetchone()

        def series(measure: str, column: str, where: str) -> list[tuple]:
            return [
                (time, measure, value)
                for time, value in con.execute(
                    f"select strftime(interval_start_local, '%H:%M'), sum({column}) from marts.fct_queue_intervals "
                    f"where interval_date = ? and ({where}) and {column} is not null group by 1 order by 1",
                    [day] + [first] * where.count("?"),
                ).fetchall()
            ]

        so_far = "interval_start_at <= ?::timestamp"
        service = con.execute(
            "select strftime(interval_start_local, '%H:%M'), queue_id, service_level_rate "
            "from marts.fct_queue_intervals where interval_date = ? and service_level_rate is not null "
            "order by interval_start_at, queue_id",
            [day],
        ).fetchall()
        return {
            "first_open": first, "waiting": waiting, "reforecast": reforecast,
            "today_volume": sorted(
                series("offered", "offered_count", so_far) + series("forecast", "forecast_offered_count", "true")
                + series("reforecast", "reforecast_offered_count", "not is_interval_complete or ? is null")
            ),
            "today_agents": sorted(
                series("required (Erlang C)", "erlang_c_agents", "is_interval_complete or ? is null")
                + series("reforecast (Erlang C)", "reforecast_erlang_c_agents", "not is_interval_complete or ? is null")
                + series("logged in", "logged_in_agents", so_far)
            ),
            "today_service_level": service,
        }


def test_today_so_far_shows_its_intervals_as_they_filled_and_the_reforecast_of_the_rest(published, tmp_path):
    out = tmp_path / "wallboard"
    write(published, out)
    path = out / ALPHA / "index.html"
    [today] = [section for section in pages.read_page(path).sections if section["section"] == "today-intervals"]
    # by hand (tests/wallboard_pages.py): 08:00 to 09:00 complete, the data ends in 09:30 (UTC 01:30); 3 + 1
    # callers wait there and 1 in 09:00; the rest of the day is reforecast at voice 51 + 63.75 + 63.75 + 51
    # + 51 and vip 5 x 10
    assert today == {
        "section": "today-intervals", "tenant": ALPHA, "date": "2026-03-16",
        "first-open-interval": "2026-03-16T01:30:00", "first-open-time": "09:30", "waiting": "5",
        "reforecast-offered": "330.5",
    }
    mart = today_from_the_mart(published["tenants"][ALPHA], "2026-03-16")
    assert today["first-open-interval"] == mart["first_open"].isoformat()
    assert today["waiting"] == wallboard.machine_value(mart["waiting"])
    assert float(today["reforecast-offered"]) == pytest.approx(mart["reforecast"])
    text = path.read_text()
    assert "Intervals complete up to <strong>09:30</strong>" in text
    assert "<strong>5</strong> callers still waiting" in text

    charts = pages.chart_rows(path)
    assert set(TODAY_CHARTS) <= set(charts)
    for name in ("today_volume", "today_agents"):
        shown = sorted((row["time"], row["measure"], row["value"]) for row in charts[name])
        assert [(time, measure) for time, measure, _ in shown] == [(time, measure) for time, measure, _ in
                                                                    mart[name]], name
        assert [value for *_, value in shown] == pytest.approx([value for *_, value in mart[name]]), name
    assert [(row["time"], row["queue"], row["value"]) for row in charts["today_service_level"]] == mart[
        "today_service_level"
    ]
    # offered and logged in as far as the data reaches, required by Erlang C on the complete intervals,
    # the reforecast's from the one filling on
    times = {measure: [row["time"] for row in charts["today_agents"] if row["measure"] == measure]
             for measure in ("required (Erlang C)", "reforecast (Erlang C)", "logged in")}
    assert times == {
        "required (Erlang C)": ["08:00", "08:30", "09:00"],
        "reforecast (Erlang C)": ["09:30", "10:00", "10:30", "11:00", "11:30"],
        "logged in": ["08:00", "08:30", "09:00", "09:30"],
    }
    assert [row["time"] for row in charts["today_volume"] if row["measure"] == "offered"] == [
        "08:00", "08:30", "09:00", "09:30"
    ]
    # the latest complete day's section is still the day by interval, with its own charts and worst five
    assert {"interval_volume", "interval_service_level", "interval_agents"} <= set(charts)
    assert {row["time"] for row in charts["interval_volume"]} == {
        f"{8 + index // 2:02d}:{30 * (index % 2):02d}" for index in range(8)
    }
    assert len(pages.read_page(path).rows) == 5


def test_today_without_the_intraday_columns_shows_its_intervals_without_the_reforecast(tmp_path):
    """A file the release before the intraday loads published: fct_queue_intervals has no
    is_interval_complete, waiting_count or reforecast_* yet."""
    published = pages.build(tmp_path / "published", intraday=False)
    out = tmp_path / "wallboard"
    write(published, out)
    path = out / ALPHA / "index.html"
    [today] = [section for section in pages.read_page(path).sections if section["section"] == "today-intervals"]
    assert (today["first-open-interval"], today["waiting"], today["reforecast-offered"]) == ("", "", "")
    text = path.read_text()
    assert "marts.fct_queue_intervals has no intraday columns yet" in text
    assert "callers still waiting" not in text and "Intervals complete up to" not in text
    assert "reforecast (Erlang C)" not in text  # nor in the charts' legends
    charts = pages.chart_rows(path)
    # every interval as far as the file says: offered, required and logged in throughout, no reforecast
    assert {row["measure"] for row in charts["today_volume"]} == {"offered", "forecast"}
    assert {row["measure"] for row in charts["today_agents"]} == {"required (Erlang C)", "logged in"}
    offered = {row["time"]: row["value"] for row in charts["today_volume"] if row["measure"] == "offered"}
    assert offered == {time: voice[0] + vip[0] for time, voice, vip in zip(
        [f"{8 + index // 2:02d}:{30 * (index % 2):02d}" for index in range(8)],
        pages.TODAY_INTERVALS["voice"], pages.TODAY_INTERVALS["vip"],
    )}
    assert {"interval_volume", "interval_service_level", "interval_agents"} <= set(charts)
    assert len(pages.read_page(path).rows) == 5


# --- colours -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "target", "higher_is_better", "colour"),
    [
        (0.8, 0.8, True, "green"),  # met on the target
        (0.93, 0.8, True, "green"),
        (0.75, 0.8, True, "amber"),
        (0.72, 0.8, True, "amber"),  # missed by 0.08 = 10 % of 0.8: amber (in doubles 0.8 - 0.72 > 0.08)
        (0.7199, 0.8, True, "red"),
        (0.05, 0.05, False, "green"),  # abandon rate: lower is better
        (0.031, 0.05, False, "green"),
        (0.055, 0.05, False, "amber"),  # 0.05 × 1.1
        (0.0551, 0.05, False, "red"),
        (None, 0.8, True, "neutral"),  # no value
        (0.5, None, True, "neutral"),  # no target
        (0, 0, False, "green"),
        (0.001, 0, False, "red"),
    ],
)
def test_a_tile_is_green_when_met_amber_within_10_percent_of_the_target_red_beyond(
    value, target, higher_is_better, colour
):
    assert wallboard.status(value, target, higher_is_better) == colour


def test_the_pages_colour_each_tile_by_its_target(published, tmp_path):
    out = tmp_path / "wallboard"
    write(published, out)
    alpha = by_kpi(pages.read_page(out / ALPHA / "index.html").kpis, grain="day", date="2026-03-15")
    assert {name: kpi["status"] for name, kpi in alpha.items()} == {
        "offered_count": "neutral",  # no target
        "answer_rate": "green",  # 0.9637 >= 0.95
        "service_level_rate": "amber",  # 0.72 against 0.8: at the boundary
        "abandon_rate": "amber",  # 0.055 against at most 0.05: at the boundary
        "asa_seconds": "neutral",
        "aht_seconds": "neutral",
        "vip_service_level_rate": "red",  # 0.5123 against 0.9
        "csat_rate": "neutral",  # no value
        "qa_score": "green",  # 0.8519 >= 0.85
        "fcr_rate": "neutral",
    }
    assert all(kpi["status"] in kpi["class"].split() for kpi in alpha.values())
    # a complete week against the same targets: 2026-03-02 to 08, abandon rate the mean of 0.059 .. 0.053 =
    # 0.056 against at most 0.05 (red beyond 0.055), service level 0.77 against 0.8 (amber from 0.72)
    week = by_kpi(pages.read_page(out / ALPHA / "index.html").kpis, grain="week", date="2026-03-02")
    assert {name: kpi["status"] for name, kpi in week.items()} == {
        "offered_count": "neutral", "service_level_rate": "amber", "answer_rate": "amber", "abandon_rate": "red",
        "asa_seconds": "neutral", "aht_seconds": "neutral",
    }
    beta = by_kpi(pages.read_page(out / "index.html").kpis, tenant=BETA)
    assert {name: kpi["status"] for name, kpi in beta.items()} == {
        "offered_count": "neutral", "answer_rate": "amber", "service_level_rate": "green", "abandon_rate": "red",
        "asa_seconds": "neutral",
    }


# --- what a tenant's folder holds ---------------------------------------------------------------------


def figures(latest: dict) -> list[str]:
    """A day's figures as the pages could write them: the mart's value and the rounded text."""
    found = []
    for name, value in latest.items():
        if value is not None:
            found += [wallboard.machine_value(value), wallboard.shown(value, wallboard.KPIS[name].unit)]
    return found


def center_figures(published: dict, tenant: str) -> list[str]:
    """The center's figures beside the tenant's benchmark rows in the center file (quartiles, best, ranks,
    from the other tenant's values), which the tenant's own file does not have."""
    found = []
    with duckdb.connect(str(published["center"]), read_only=True) as con:
        for kpi, value, *center in con.execute(
            "select kpi_name, kpi_value, center_p25, center_median, center_p75, center_best "
            "from marts.rpt_tenant_benchmark where tenant_id = ?",
            [tenant],
        ).fetchall():
            for figure in center:
                if figure not in (None, value):
                    found += figures({kpi: figure})
    return found


# alpha's partial day by interval as its page shows it: the rest of the day's reforecast, voice and vip at
# 10:00 reforecast (63.75 + 10), a service level at 08:30
ALPHA_TODAY = ["330.5", "73.75", "0.7273"]


def episode_figures(tenant: str) -> list[str]:
    """A tenant's service-alert episodes as the pages could write them: their first intervals (UTC and
    local), their predicted service levels and each ladder step's (machine values and text), the steps'
    notes: the figures of tests/wallboard_pages.py no other tenant has (agents, such as 1.0, are not)."""
    found = []
    for episode in pages.EPISODES:
        if episode[0] == tenant:
            local = dt.datetime.fromisoformat(episode[2])
            found += [local.isoformat(), (local - dt.timedelta(hours=8)).isoformat(), wallboard.machine_value(
                episode[-1]), wallboard.shown(episode[-1], "rate")]
    for (owner, _), steps in pages.LADDERS.items():
        if owner == tenant:
            for _, service_level, note in steps:
                found += [wallboard.machine_value(service_level), wallboard.shown(service_level, "rate")]
                found += [note] if note else []
    return sorted(set(found))


def test_a_tenants_folder_holds_nothing_of_another_tenant(published, tmp_path):
    out = tmp_path / "wallboard"
    write(published, out)
    # alpha's open episode and its ladder, shown on its page
    alpha_alerts = ["2026-03-16T01:30:00", "0.4137", "41.4%", "0.5519", "55.2%", "0.6482", "64.8%", "0.6931",
                    "69.3%", "0.8264", "82.6%", "0.9017", "90.2%",
                    "no IVR in this format: 0 agents rather than a guess"]
    assert set(alpha_alerts) <= set(episode_figures(ALPHA))
    others = {
        ALPHA: [BETA, NAMES[BETA], "Cashback plus", "0.7731", *figures(pages.BETA_LATEST),
                *center_figures(published, ALPHA), "of 2", *episode_figures(BETA)],
        BETA: [ALPHA, NAMES[ALPHA], "Gold card upgrade", "Travel insurance", "0.8612", *figures(pages.ALPHA_LATEST),
               *center_figures(published, BETA), "of 2", *ALPHA_TODAY, *episode_figures(ALPHA)],
    }
    assert min(len(others[ALPHA]), len(others[BETA])) > 30
    alpha = (out / ALPHA / "index.html").read_text()
    assert all(word in alpha for word in ALPHA_TODAY + alpha_alerts)
    assert "2026-03-14T08:30:00" in (out / BETA / "index.html").read_text()  # beta's own episode, on its page
    for tenant, forbidden in others.items():
        files = [path for path in (out / tenant).rglob("*") if path.is_file()]
        assert {path.name for path in files} >= {"index.html", "stamp.json", "vega.min.js", "wallboard.css"}
        for path in files:
            text = path.read_bytes().decode("utf-8", errors="replace")
            leaked = [word for word in forbidden if re.search(rf"(?<![\w.]){re.escape(word)}(?![\w])", text)]
            assert not leaked, f"{path.relative_to(out)} holds {leaked}"
        page = (out / tenant / "index.html").read_text()
        assert tenant in page and NAMES[tenant] in page
    # and the center's page has both
    center = (out / "index.html").read_text()
    assert all(word in center for word in (ALPHA, BETA, NAMES[ALPHA], NAMES[BETA]))


def test_a_tenants_page_does_not_change_with_another_tenants_figures(published, tmp_path):
    """Alpha's folder is made from alpha's file alone: beta's figures, however they change, never reach it."""
    other = pages.build(tmp_path / "other", beta={"offered_count": 11, "service_level_rate": 0.1234})
    first, second = tmp_path / "first", tmp_path / "second"
    write(published, first)
    write(other, second)

    def page(folder: Path) -> str:
        text = (folder / ALPHA / "index.html").read_text()
        return re.sub(r"\d{8}T\d{12}Z|Generated [^(]*", "", text)

    assert page(first) == page(second)
    assert (first / "index.html").read_text() != (second / "index.html").read_text()  # the center's does change


def test_every_folder_loads_its_scripts_and_styles_from_inside_itself(published, tmp_path):
    out = tmp_path / "wallboard"
    write(published, out)
    for folder in (out, out / ALPHA, out / BETA):
        page = pages.read_page(folder / "index.html")
        assert {"_assets/vega.min.js", "_assets/vega-lite.min.js", "_assets/vega-embed.min.js",
                "_assets/wallboard.js", "_assets/wallboard.css"} <= set(page.links)
        for link in page.links:
            assert "://" not in link and not link.startswith("/") and ".." not in link, link
            assert (folder / link).is_file(), link
        assert (folder / "_assets" / "LICENSE-vega.txt").is_file()
    assert {link for link in pages.read_page(out / "index.html").links if "index.html" in link} == {
        f"{ALPHA}/index.html", f"{BETA}/index.html"
    }
    # the chart specs are in the page: nothing to fetch
    alpha = (out / ALPHA / "index.html").read_text()
    assert "fetch(" not in alpha
    assert set(pages.read_page(out / ALPHA / "index.html").charts) == {
        "interval_volume", "interval_service_level", "interval_agents", "trend_rates", "trend_offered",
        "campaign_roi", *TODAY_CHARTS,
    }


def test_the_five_worst_intervals_are_the_lowest_service_levels_with_calls(published, tmp_path):
    out = tmp_path / "wallboard"
    write(published, out)
    rows = pages.read_page(out / ALPHA / "index.html").rows
    shown = [(row["data-queue"], row["data-interval"]) for row in rows]
    # by hand (tests/wallboard_pages.py): UTC is local - 8 h; the 09:30 voice interval has no calls and
    # vip 09:00 no service level: neither is among them
    assert shown == [
        (queue, f"2026-03-15T{int(local[:2]) - 8:02d}:{local[3:]}:00") for queue, local in pages.worst_intervals()
    ]


def test_a_tenants_page_shows_the_centers_quartiles_only_where_enough_tenants_have_a_value(published, tmp_path):
    """Publish leaves them only then (is_center_shareable: at least 5 tenants); the page holds to it too."""
    with duckdb.connect(str(published["tenants"][ALPHA])) as con:
        con.execute(
            "update marts.rpt_tenant_benchmark set center_p25 = 0.6123, center_median = 0.6543, center_p75 = 0.6987 "
            "where period_grain = 'day' and period_start = '2026-03-15' and kpi_name = 'common_service_level_rate'"
        )
    write(published, tmp_path / "hidden")
    assert "65.4%" not in (tmp_path / "hidden" / ALPHA / "index.html").read_text()
    with duckdb.connect(str(published["tenants"][ALPHA])) as con:
        con.execute("update marts.rpt_tenant_benchmark set is_center_shareable = true")
    write(published, tmp_path / "shown")
    assert "61.2% · 65.4% · 69.9%" in (tmp_path / "shown" / ALPHA / "index.html").read_text()


def test_the_center_ranks_the_tenants_on_one_day_complete_for_both(published, tmp_path):
    out = tmp_path / "wallboard"
    write(published, out)
    text = (out / "index.html").read_text()
    assert "Ranking on Sat 14 Mar 2026" in text  # alpha's latest complete day is the 15th, beta's the 14th
    cards = re.findall(r'data-tenant-card="([a-z_]+)"', text)
    assert cards == [BETA, ALPHA]  # beta is #1 on the common service level that day


# --- service alerts -------------------------------------------------------------------------------------


def alerts_section(path: Path) -> dict:
    [section] = [section for section in pages.read_page(path).sections if section["section"] == "service-alerts"]
    return section


def test_an_open_episode_shows_its_breach_and_its_ladder_with_the_recommended_step(published, tmp_path):
    out = tmp_path / "wallboard"
    write(published, out)
    path = out / ALPHA / "index.html"
    page = pages.read_page(path)
    # the latest day (today so far, 2026-03-16): voice hard to reach since 09:30 local (01:30 UTC), open
    assert alerts_section(path) == {
        "section": "service-alerts", "tenant": ALPHA, "date": "2026-03-16", "open-count": "1", "closed-count": "1",
    }
    [episode] = [episode for episode in page.episodes if episode["episode"] == "open"]
    assert episode == {
        "episode": "open", "queue": "voice", "interval-start": "2026-03-16T01:30:00",
        "interval-start-local": "2026-03-16T09:30:00", "breaches": '["service_level_rate"]',
        "breaching-intervals": "1", "recommended-step": "5", "agents-before": "9.75",
        "service-level-before": "0.4137",
    }
    # the breach: a KPI element of its row of fct_service_alerts, unrounded, against the alert threshold
    [breach] = [kpi for kpi in page.kpis if kpi["grain"] == "episode"]
    assert {key: breach[key] for key in ("kpi", "tenant", "date", "value", "threshold", "status", "queue")} == {
        "kpi": "service_level_rate", "tenant": ALPHA, "date": "2026-03-16", "value": "0.5", "threshold": "0.7",
        "status": "red", "queue": "voice",  # 0.5 misses 0.7 by more than 10 % of it
    }
    assert breach["value"] == pages.mart_value(published["tenants"][ALPHA], breach)
    text = path.read_text()
    assert "Service level <strong>50.0%</strong> <span class=\"threshold\">(alert below 70.0%)</span>" in text
    assert "Breaches: Service level</p>" in text
    assert "hard to reach since <strong>09:30</strong>" in text
    assert "Now: 9.75 agents serving the queue, service level predicted for the next interval with them " \
           "<strong>41.4%</strong>" in text
    # the six steps in order, as the file holds them (tests/wallboard_pages.py LADDERS), step 5 the first
    # at the 0.8 target (0.8264) and marked
    assert [(step["step"], step["action"], step["agents"], step["service-level-after"], step.get("recommended"))
            for step in page.steps] == [
        ("1", "same_site_agents", "1.25", "0.5519", None),
        ("2", "ivr_front_service", "0.0", "0.5519", None),
        ("3", "outbound_agents", "1.0", "0.6482", None),
        ("4", "pause_cross_selling", "0.35", "0.6931", None),
        ("5", "cross_site_agents", "1.5", "0.8264", "true"),
        ("6", "cross_skill_agents", "1.0", "0.9017", None),
    ]
    rows = re.findall(r"<tr data-step=.*?</tr>", text)
    cells = [[re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)] for row in rows]
    assert cells == [
        ["1", "Agents of the same site same_site_agents", "1.25", "55.2%", ""],
        ["2", "IVR self-service in front ivr_front_service", "0", "55.2%",
         "no IVR in this format: 0 agents rather than a guess"],
        ["3", "Outbound agents outbound_agents", "1", "64.8%", ""],
        ["4", "Pause in-call cross-selling pause_cross_selling", "0.35", "69.3%", ""],
        ["5", "Agents of other sites cross_site_agents recommended", "1.5", "82.6%", ""],
        ["6", "Agents of other skills cross_skill_agents", "1", "90.2%", ""],
    ]
    assert 'class="recommended"' in rows[4] and all("recommended" not in row for row in rows[:4] + rows[5:])
    assert "Recommended: <strong>step 5, agents of other sites</strong>" in text
    # the ladder of the episode closed that morning (its own figures) is not shown, nor the day before's
    assert not [word for word in ("0.8234", "82.3%", "0.8913", "89.1%", "0.6011", "2026-03-15T08:30:00")
                if word in text]


def test_a_breach_reads_like_the_tiles_and_lists_every_rule_it_breached(published, tmp_path):
    """Rates as percentages, seconds in s, lower-is-better rules "above" their threshold; an episode the
    file has no ladder rows for says so."""
    with duckdb.connect(str(published["tenants"][ALPHA])) as con:
        con.execute("""
            insert into marts.fct_service_alerts values
            ('alpha_care', 'vip', '2026-03-16 01:30', '2026-03-16 09:30', null, 'abandon_rate', 0.2312, 0.1, null,
             2, '["abandon_rate","asa_seconds"]', null, true, '2026-03-16', null, 2.75, 0.8105),
            ('alpha_care', 'chat', '2026-03-16 01:00', '2026-03-16 09:00', null, 'asa_seconds', 52.3, 40.0, null,
             1, '["asa_seconds"]', null, true, '2026-03-16', null, 3.0, 0.5)
        """)
    out = tmp_path / "wallboard"
    write(published, out)
    path = out / ALPHA / "index.html"
    page = pages.read_page(path)
    assert alerts_section(path)["open-count"] == "3"
    # in the order of their first interval
    assert [(episode["queue"], episode["interval-start-local"]) for episode in page.episodes
            if episode["episode"] == "open"] == [
        ("chat", "2026-03-16T09:00:00"), ("vip", "2026-03-16T09:30:00"), ("voice", "2026-03-16T09:30:00"),
    ]
    breaches = {kpi["queue"]: kpi for kpi in page.kpis if kpi["grain"] == "episode"}
    assert {queue: (kpi["kpi"], kpi["value"], kpi["threshold"], kpi["status"]) for queue, kpi in breaches.items()} == {
        "chat": ("asa_seconds", "52.3", "40.0", "red"), "voice": ("service_level_rate", "0.5", "0.7", "red"),
        "vip": ("abandon_rate", "0.2312", "0.1", "red"),
    }
    text = path.read_text()
    assert "ASA <strong>52.3 s</strong> <span class=\"threshold\">(alert above 40.0 s)</span>" in text
    assert "Abandon rate <strong>23.1%</strong> <span class=\"threshold\">(alert above 10.0%)</span>" in text
    assert "Breaches: Abandon rate, ASA</p>" in text
    assert text.count("No dispatch ladder published for this episode.") == 2
    assert len(page.steps) == 6  # voice's alone


def test_the_days_closed_episodes_are_listed_and_a_day_with_none_open_says_so(published, tmp_path):
    with duckdb.connect(str(published["tenants"][BETA])) as con:  # the second one ran into the night
        con.execute(
            "update marts.fct_service_alerts set closed_by = 'midnight', interval_end_local = '2026-03-15 00:00', "
            "closing_interval_start_at = null where interval_start_local = '2026-03-14 10:30'"
        )
    out = tmp_path / "wallboard"
    write(published, out)

    def closed(tenant: str) -> list[tuple]:
        return [(episode["queue"], episode["interval-start-local"], episode["interval-end-local"],
                 episode["closed-by"]) for episode in pages.read_page(out / tenant / "index.html").episodes
                if episode["episode"] == "closed"]

    # alpha: voice 08:30 to 09:00 today, recovered (its complete day's episode is not today's)
    assert closed(ALPHA) == [("voice", "2026-03-16T08:30:00", "2026-03-16T09:00:00", "recovered")]
    alpha = (out / ALPHA / "index.html").read_text()
    assert "<strong>voice</strong> 08:30–09:00 <span class=\"closed-by\">recovered</span>" in alpha
    assert "No service alert open" not in alpha
    # beta's latest day is complete: its episodes closed, none open
    assert alerts_section(out / BETA / "index.html") == {
        "section": "service-alerts", "tenant": BETA, "date": "2026-03-14", "open-count": "0", "closed-count": "2",
    }
    assert closed(BETA) == [
        ("voice", "2026-03-14T08:30:00", "2026-03-14T10:00:00", "recovered"),
        ("voice", "2026-03-14T10:30:00", "2026-03-15T00:00:00", "midnight"),
    ]
    beta = (out / BETA / "index.html").read_text()
    assert "No service alert open" in beta
    assert "<strong>voice</strong> 08:30–10:00 <span class=\"closed-by\">recovered</span>" in beta
    assert "<strong>voice</strong> 10:30–24:00 <span class=\"closed-by\">midnight</span>" in beta
    assert not pages.read_page(out / BETA / "index.html").steps  # no ladder for an episode closed
    # the center: each project's open episodes on its latest day
    center = (out / "index.html").read_text()
    assert dict(re.findall(r'data-tenant-card="([a-z_]+)".*?data-open-alerts="(\d+)"', center, re.S)) == {
        ALPHA: "1", BETA: "0",
    }
    assert "1 service alert open" in center and "no service alert open" in center


def test_a_file_without_the_dispatch_ladder_shows_its_episodes_and_says_so(tmp_path):
    """fct_service_alerts as the release before the ladder published it: no agents_before,
    service_level_before, no recommended step, no fct_service_alert_steps."""
    published = pages.build(tmp_path / "published", ladder=False)
    out = tmp_path / "wallboard"
    write(published, out)
    path = out / ALPHA / "index.html"
    page = pages.read_page(path)
    assert alerts_section(path)["open-count"] == "1"
    [episode] = [episode for episode in page.episodes if episode["episode"] == "open"]
    assert (episode["queue"], episode["interval-start"], episode["recommended-step"], episode["agents-before"]) == (
        "voice", "2026-03-16T01:30:00", "", ""
    )
    [breach] = [kpi for kpi in page.kpis if kpi["grain"] == "episode"]
    assert (breach["value"], breach["threshold"]) == ("0.5", "0.7")
    assert not page.steps
    text = path.read_text()
    assert "marts.fct_service_alerts has no dispatch ladder yet (an earlier release published it)" in text
    assert "marts.fct_service_alert_steps is not in the published file yet" in text
    assert "Recommended" not in text and "Even all six" not in text and "No dispatch ladder published" not in text
    assert "Service level <strong>50.0%</strong>" in text


def test_a_tenants_page_shows_its_own_episodes_from_a_file_that_holds_anothers(published, tmp_path):
    """The page asks for the tenant's rows: made from the center file (every tenant's rows), alpha's
    page shows none of the episode and ladder beta has on the same day."""
    with duckdb.connect(str(published["center"])) as con:
        con.execute("""
            insert into marts.fct_service_alerts values
            ('beta_bank', 'voice', '2026-03-16 01:30', '2026-03-16 09:30', null, 'service_level_rate', 0.3141,
             0.7, 4, 1, '["service_level_rate"]', null, true, '2026-03-16', null, 5.125, 0.2718)
        """)
        con.execute("""
            insert into marts.fct_service_alert_steps
            select 'beta_bank', 'voice', '2026-03-16 01:30', '2026-03-16 09:30', step, action, agents + 10.5,
                service_level_after - 0.0123, 'beta only', episode_date
            from marts.fct_service_alert_steps
            where tenant_id = 'alpha_care' and interval_start_local = '2026-03-16 09:30'
        """)
    out = tmp_path / "wallboard"
    wallboard.write(published["center"], {ALPHA: published["center"]}, out, names=NAMES)
    path = out / ALPHA / "index.html"
    page = pages.read_page(path)
    assert alerts_section(path)["open-count"] == "1"
    assert [(episode["episode"], episode["queue"], episode["interval-start"]) for episode in page.episodes] == [
        ("open", "voice", "2026-03-16T01:30:00"), ("closed", "voice", "2026-03-16T00:30:00"),
    ]
    assert [step["agents"] for step in page.steps] == ["1.25", "0.0", "1.0", "0.35", "1.5", "1.0"]
    text = path.read_text()
    assert not [word for word in ("0.3141", "31.4%", "5.125", "0.2718", "27.2%", "beta only", "11.75") if word in text]


# --- files an earlier release published, tenants with no data ----------------------------------------


def test_files_without_the_new_marts_and_a_tenant_without_data_render_pages_saying_so(tmp_path):
    published = pages.build(tmp_path / "published", tables=("rpt_daily_kpis",))
    empty = tmp_path / "published" / "tenants" / "gamma_new.duckdb"
    with duckdb.connect(str(empty)) as con:
        con.execute("create schema marts")
        con.execute(f"{pages.CREATE['rpt_daily_kpis']}")
    bare = tmp_path / "published" / "tenants" / "delta_bare.duckdb"
    duckdb.connect(str(bare)).close()  # no schema at all
    tenants = published["tenants"] | {"gamma_new": empty, "delta_bare": bare}
    out = tmp_path / "wallboard"
    done = wallboard.write(published["center"], tenants, out, names=NAMES)
    assert len(done["pages"]) == 5

    center = (out / "index.html").read_text()
    assert "marts.rpt_kpis_by_period is not in the published file yet" in center
    assert "marts.rpt_tenant_benchmark is not in the published file yet" in center
    assert len(pages.read_page(out / "index.html").kpis) == 10  # both tenants' day tiles all the same
    assert "gamma_new" in center and "no complete day yet" in center

    assert "marts.fct_service_alerts is not in the published file yet" in center
    assert "data-open-alerts" not in center

    alpha = (out / ALPHA / "index.html").read_text()
    for table in ("fct_queue_intervals", "rpt_kpis_by_period", "fct_campaign_daily", "rpt_tenant_benchmark",
                  "fct_service_alerts"):
        assert f"marts.{table} is not in the published file yet" in alpha
    # no episodes known: neither "none open" nor a count
    assert (alerts_section(out / ALPHA / "index.html")["open-count"], "No service alert open" in alpha) == ("", False)
    assert len([kpi for kpi in pages.read_page(out / ALPHA / "index.html").kpis if kpi["grain"] == "day"]) == 20
    assert "No figures published for this project yet" in (out / "gamma_new" / "index.html").read_text()
    assert "marts.rpt_daily_kpis is not in the published file yet" in (out / "delta_bare" / "index.html").read_text()


def test_an_unreadable_or_missing_file_is_named(published, tmp_path):
    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"not a database" * 100)
    with pytest.raises(wallboard.WallboardError, match="broken.duckdb: cannot be read"):
        wallboard.write(published["center"], {ALPHA: broken}, tmp_path / "out1", names=NAMES)
    with pytest.raises(wallboard.WallboardError, match="gone.duckdb: no such published file"):
        wallboard.write(published["center"], {ALPHA: tmp_path / "gone.duckdb"}, tmp_path / "out2", names=NAMES)
    with pytest.raises(wallboard.WallboardError, match="out2: already exists"):
        wallboard.write(published["center"], published["tenants"], tmp_path / "out2", names=NAMES)
    with pytest.raises(wallboard.WallboardError, match="'../x': not a tenant id"):
        wallboard.write(published["center"], {"../x": published["center"]}, tmp_path / "out3", names=NAMES)


# --- publish: the swap, the versions kept, the modes ---------------------------------------------------


def modes(top: Path) -> set[tuple[str, int]]:
    found = {("dir", stat.S_IMODE(top.stat().st_mode))}
    for path in top.rglob("*"):
        found.add(("dir" if path.is_dir() else "file", stat.S_IMODE(path.stat().st_mode)))
    return found


def test_publish_swaps_a_link_in_keeps_two_previous_and_takes_the_tenants_files_modes(
    published, home, monkeypatch
):
    target = settings.published_dir()
    stamps = []
    for _ in range(4):
        done = wallboard.publish(published["center"], published["tenants"], target, names=NAMES)
        stamps.append(done["stamp"])
    link = target / "wallboard"
    assert link.is_symlink()
    assert os.readlink(link) == f".wallboard/{stamps[-1]}"  # relative: the folder can move
    assert done["path"] == str(link)
    kept = sorted(path.name for path in (target / ".wallboard").iterdir() if not path.name.startswith("."))
    assert kept == stamps[1:]  # the served one and the two before it
    assert (link / ALPHA / "index.html").is_file()
    assert modes(target / ".wallboard") == {("dir", 0o700), ("file", 0o600)}

    own = grp.getgrgid(os.getgid()).gr_name
    monkeypatch.setenv(settings.PUBLISHED_GROUP_ENV, own)
    wallboard.publish(published["center"], published["tenants"], target, names=NAMES)
    served = link.resolve()
    assert modes(served) == {("dir", 0o750), ("file", 0o640)}
    assert all(path.stat().st_gid == os.getgid() for path in served.rglob("*"))

    # the group unset: the next command takes it off again, as off the tenants' files
    monkeypatch.delenv(settings.PUBLISHED_GROUP_ENV)
    private.harden()
    assert modes(target / ".wallboard") == {("dir", 0o700), ("file", 0o600)}

    monkeypatch.setenv(settings.PUBLISHED_GROUP_ENV, "no_such_group_callops")
    with pytest.raises(wallboard.WallboardError, match="no such group"):
        wallboard.publish(published["center"], published["tenants"], target, names=NAMES)


def test_a_failed_write_leaves_the_previous_wallboard_served(published, home, tmp_path):
    target = settings.published_dir()
    first = wallboard.publish(published["center"], published["tenants"], target, names=NAMES)
    link = target / "wallboard"
    before = {path.relative_to(link): path.read_bytes() for path in link.rglob("*") if path.is_file()}
    # a publish that died half-way left its staging folder
    leftover = target / ".wallboard" / ".20260101T000000000000Z.tmp"
    leftover.mkdir()

    broken = tmp_path / "broken.duckdb"
    broken.write_bytes(b"\0garbage" * 512)
    with pytest.raises(wallboard.WallboardError, match="broken.duckdb"):
        wallboard.publish(published["center"], published["tenants"] | {BETA: broken}, target, names=NAMES)
    assert os.readlink(link) == f".wallboard/{first['stamp']}"
    assert {path.relative_to(link): path.read_bytes() for path in link.rglob("*") if path.is_file()} == before
    # neither the failed write's folder nor the old leftover is left
    assert sorted(path.name for path in (target / ".wallboard").iterdir() if path.name != ".lock") == [
        first["stamp"]
    ]
    assert not list(target.glob(".wallboard.*"))


# --- callops wallboard ----------------------------------------------------------------------------------


def served_files(published: dict) -> None:
    """The hand-made files where a publish serves them."""
    settings.published_dir().mkdir(parents=True, exist_ok=True)
    shutil.copy(published["center"], settings.published_db_path())
    tenants = settings.published_dir() / "tenants"
    tenants.mkdir(exist_ok=True)
    for tenant, path in published["tenants"].items():
        shutil.copy(path, tenants / f"{tenant}.duckdb")


def test_callops_wallboard_says_when_nothing_is_published(home, capsys):
    assert cli.main(["wallboard"]) == 1
    assert "nothing published yet (run `callops run` first)" in capsys.readouterr().out
    assert cli.main(["wallboard", "--serve", "--port", "0"]) == 1
    assert "nothing published yet" in capsys.readouterr().out


def test_callops_wallboard_writes_it_again_from_the_served_files(published, home, capsys):
    served_files(published)
    assert cli.main(["wallboard"]) == 0
    out = capsys.readouterr().out
    link = settings.published_dir() / "wallboard"
    assert f"callops wallboard: {link} (3 pages" in out
    # tenant names come from callops.yml (the test tenants are not these: their ids are shown)
    assert ALPHA in (link / ALPHA / "index.html").read_text()
    assert {kpi["tenant"] for kpi in pages.read_page(link / "index.html").kpis} == {ALPHA, BETA}


def test_serve_answers_over_http_on_a_free_port_and_stops_on_ctrl_c(published, home):
    served_files(published)
    env = os.environ | {"PYTHONPATH": str(Path(callops.__file__).parents[1])}
    process = subprocess.Popen(
        [sys.executable, "-m", "callops.cli", "wallboard", "--serve", "--port", "0"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    try:
        lines = []
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            lines.append(line)
            if "serving" in line or not line:
                break
        url = re.search(r"http://127\.0\.0\.1:\d+/", "".join(lines))
        assert url, lines
        with urllib.request.urlopen(url.group(0) + "index.html", timeout=10) as response:
            assert response.status == 200
            assert response.headers["Cache-Control"] == "no-store"
            assert BETA in response.read().decode()
        with urllib.request.urlopen(url.group(0) + f"{ALPHA}/stamp.json", timeout=10) as response:
            assert b'"stamp"' in response.read()
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(timeout=10)
