"""The operations wallboard: every project's day at a glance, and the center's overview of them all.

Every publish writes ``published/wallboard/`` from the published files (:func:`publish`)::

    index.html                  the center's overview, from the center file: every tenant side by side,
                                ranked, its latest complete day and its weeks
    _assets/                    the pages' scripts and styles (Vega, Vega-Lite and vega-embed, vendored)
    stamp.json                  what a served page polls to reload after a publish
    <tenant_id>/index.html      one project (client brand), from that tenant's own file ALONE
    <tenant_id>/_assets/, <tenant_id>/stamp.json
                                its own copies: the folder can be handed to the brand as it is, and
                                holds no other tenant's id, name or figure

A page is static HTML made from a Jinja2 template, its data (the Vega-Lite specs, built here as plain
dicts, with their rows) embedded as JSON: it opens from the file system with no request leaving it.
Served over http(s) (``callops wallboard --serve``), a page polls ``stamp.json`` in its folder and
reloads when a publish replaced it.

``published/wallboard`` is a symbolic link to ``published/.wallboard/<stamp>/``: a publish writes a new
folder beside it, then replaces the link in one rename, so a reader sees the old wallboard or the new
one, never half of one; the previous ``KEEP_PREVIOUS`` folders stay, older ones go. Files and folders
take the tenants' files' modes (callops.private: owner-only, or readable by CALLOPS_PUBLISHED_GROUP).

Every KPI tile carries its mart's value, unrounded, for machines: ``data-kpi`` (the mart's column),
``data-tenant``, ``data-date`` (the day, or the period's first day), ``data-grain`` (``day``: a row of
``rpt_daily_kpis``; ``week``/``month``: of ``rpt_kpis_by_period``) and ``data-value`` (Python's repr
of the value; empty for null). Its colour (``data-status``) is :func:`status`. A partial day's section by
interval (``data-section="today-intervals"``) carries where its data ends (``data-first-open-interval``,
``data-first-open-time``), the callers still waiting (``data-waiting``) and the rest of the day's
reforecast (``data-reforecast-offered``). The service alerts (``data-section="service-alerts"``) are the
episodes of the tenant's latest day (``marts.fct_service_alerts``): each open one (``data-episode="open"``,
``data-queue``, ``data-interval-start``: its first interval, UTC) with its breach as a KPI element of
grain ``episode`` (``data-value`` and ``data-threshold``) and its ladder's steps (``data-step``,
``data-action``, ``data-agents``, ``data-service-level-after``; ``data-recommended="true"`` on the
recommended one), and those closed that day (``data-episode="closed"``, ``data-closed-by``).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import json
import math
import os
import shutil
import time
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb

from callops import private, settings, warehouse
from callops.config import TENANT_ID_PATTERN, ConfigError, load_config
from callops.publish import PUBLISHED_SCHEMA, fsync, schema_tables, tenant_files, version_stamp

ASSETS_DIR = Path(__file__).with_name("wallboard_assets")
WALLBOARD = "wallboard"  # published/wallboard: the link readers open
VERSIONS = private.WALLBOARD_DIR  # published/.wallboard/<stamp>/: the folders it links to
KEEP_PREVIOUS = 2
PAGE_ASSETS = "_assets"  # a tenant id starts with a letter: never a tenant's folder
STAMP_FILE = "stamp.json"
POLL_SECONDS = 30
LOCK_WAIT_SECONDS = 120
# Amber: a target missed by at most this share of the target (a 0.8 target: 0.72 to just under 0.8).
AMBER_SHARE = Decimal("0.1")
TREND_DAYS = 28
CENTER_TREND_WEEKS = 13
WORST_INTERVALS = 5
RANKING_RECENT_DAYS = 7


class WallboardError(RuntimeError):
    pass


@dataclass(frozen=True)
class Kpi:
    """A figure the wallboard shows: its mart column, how it reads, and its target's column."""

    column: str
    label: str
    unit: str  # count, rate (0-1, shown as a percentage) or seconds
    target: str | None = None
    higher_is_better: bool = True


KPIS = {
    kpi.column: kpi
    for kpi in (
        Kpi("offered_count", "Offered", "count"),
        Kpi("answer_rate", "Answer rate", "rate", "answer_rate_target"),
        Kpi("service_level_rate", "Service level", "rate", "service_level_target"),
        Kpi("common_service_level_rate", "Common service level (20 s)", "rate"),
        Kpi("abandon_rate", "Abandon rate", "rate", "abandon_rate_target", higher_is_better=False),
        Kpi("asa_seconds", "ASA", "seconds", higher_is_better=False),
        Kpi("aht_seconds", "AHT", "seconds", higher_is_better=False),
        Kpi("vip_service_level_rate", "VIP service level", "rate", "vip_service_level_target"),
        Kpi("csat_rate", "CSAT", "rate", "csat_target"),
        Kpi("qa_score", "QA score", "rate", "qa_score_target"),
        Kpi("fcr_rate", "FCR", "rate"),
        Kpi("occupancy_rate", "Occupancy", "rate"),
    )
}
PROJECT_TILES = (
    "offered_count", "answer_rate", "service_level_rate", "abandon_rate", "asa_seconds", "aht_seconds",
    "vip_service_level_rate", "csat_rate", "qa_score", "fcr_rate",
)
CENTER_TILES = ("offered_count", "answer_rate", "service_level_rate", "abandon_rate", "asa_seconds")
MONTH_TILES = ("qa_score", "csat_rate")
WEEK_COLUMNS = ("offered_count", "service_level_rate", "answer_rate", "abandon_rate", "asa_seconds", "aht_seconds")
WEEK_TARGETS = tuple(KPIS[name].target for name in WEEK_COLUMNS if KPIS[name].target)
BENCHMARK_KPIS = (
    "common_service_level_rate", "answer_rate", "abandon_rate", "asa_seconds", "service_level_rate", "csat_rate",
    "qa_score", "fcr_rate",
)
# fct_queue_intervals' columns of a day as it fills (the intraday loads): today's section uses them
INTRADAY_COLUMNS = ("is_interval_complete", "waiting_count", "reforecast_offered_count", "reforecast_erlang_c_agents")
RANKED_BY = "common_service_level_rate"  # the center's cards: one service level for every tenant
TREND_RATES = ("service_level_rate", "answer_rate", "abandon_rate")
CENTER_TREND_KPIS = ("offered_count", "service_level_rate", "answer_rate", "abandon_rate")
# the dispatch ladder's steps (fct_service_alert_steps.action), in order, as the page names them
LADDER_ACTIONS = {
    "same_site_agents": "Agents of the same site",
    "ivr_front_service": "IVR self-service in front",
    "outbound_agents": "Outbound agents",
    "pause_cross_selling": "Pause in-call cross-selling",
    "cross_site_agents": "Agents of other sites",
    "cross_skill_agents": "Agents of other skills",
}
ALERT_COLUMNS = (
    "queue_id", "interval_start_at", "interval_start_local", "interval_end_local", "kpi_name", "kpi_value",
    "threshold_value", "recommended_step", "breaching_interval_count", "breaches", "closed_by", "is_open",
)
# fct_service_alerts' columns of the ladder (the release that computes it adds them)
ALERT_LADDER_COLUMNS = ("agents_before", "service_level_before")
STEP_COLUMNS = ("queue_id", "interval_start_at", "step", "action", "agents", "service_level_after", "note")


# --- what a figure looks like ------------------------------------------------------------------------


def _decimal(value: float | int | Decimal) -> Decimal:
    """The value as it prints (shortest repr): 0.72 is 0.72, not the binary double below it."""
    return value if isinstance(value, Decimal) else Decimal(repr(value))


def status(value, target, higher_is_better: bool = True) -> str:
    """A tile's colour: ``green`` the target is met, ``amber`` missed by at most 10 % of the target,
    ``red`` missed by more, ``neutral`` without a value or a target. Lower-is-better (abandon rate): met
    at or below the target, amber up to target × 1.1. Compared as the values print, so the boundary
    (0.72 against 0.8) is amber as a reader would compute it; green agrees with the mart's
    ``is_*_target_met``."""
    if value is None or target is None or _not_finite(value) or _not_finite(target):
        return "neutral"
    value, target = _decimal(value), _decimal(target)
    missed_by = target - value if higher_is_better else value - target
    if missed_by <= 0:
        return "green"
    return "amber" if missed_by <= abs(target) * AMBER_SHARE else "red"


def _not_finite(value) -> bool:
    return isinstance(value, float) and not math.isfinite(value)


def machine_value(value) -> str:
    """``data-value``: the mart's value unrounded (repr of a float, an int's digits); empty for null."""
    if value is None or _not_finite(value):
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float):
        return repr(value)
    return str(value)


def shown(value, unit: str) -> str:
    """The value as the tile shows it: counts with thousands separators, rates as percentages with one
    decimal, seconds with one decimal below 100 s and as m:ss above."""
    if value is None or _not_finite(value):
        return "–"
    value = float(value)
    if unit == "count":
        return f"{value:,.0f}"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if value < 100:
        return f"{value:.1f} s"
    minutes, seconds = divmod(round(value), 60)
    return f"{minutes}:{seconds:02d}"


def _target_text(kpi: Kpi, target) -> str:
    if target is None:
        return ""
    return f"target {'≥' if kpi.higher_is_better else '≤'} {shown(target, kpi.unit)}"


def tile(kpi_name: str, row: dict, tenant: str, day: dt.date, grain: str = "day", partial: bool = False,
         label: str | None = None) -> dict:
    """One KPI tile from a mart row: its value, text, target and colour (a partial day: neutral, as its
    target attainment is not known until the day is over)."""
    kpi = KPIS[kpi_name]
    value = row.get(kpi_name)
    target = row.get(kpi.target) if kpi.target else None
    return {
        "kpi": kpi_name,
        "label": label or kpi.label,
        "tenant": tenant,
        "date": day.isoformat(),
        "grain": grain,
        "value": machine_value(value),
        "text": shown(value, kpi.unit),
        "target": _target_text(kpi, target),
        "status": "neutral" if partial else status(value, target, kpi.higher_is_better),
        "partial": partial,
        "notes": [],
    }


# --- reading a published file ------------------------------------------------------------------------


SOURCE = "src"


def _columns(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The tables of the attached file's schema ``marts`` with their columns."""
    return {table: [column for column, _ in columns] for table, columns in schema_tables(con, SOURCE).items()}


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    cursor = con.execute(sql, params or [])
    names = [description[0] for description in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _table(name: str) -> str:
    return f'{SOURCE}.{PUBLISHED_SCHEMA}."{name}"'


def _select(columns: list[str], wanted: tuple[str, ...] | list[str], table: str = "") -> str:
    """``wanted`` columns (of ``table``, an alias, where given), null for those the table lacks (a file an
    earlier release published)."""
    prefix = f"{table}." if table else ""
    return ", ".join(f'{prefix}"{name}"' if name in columns else f'null as "{name}"' for name in wanted)


def _missing(table: str) -> str:
    return (
        f"marts.{table} is not in the published file yet (an earlier release published it): the next "
        "publish adds it"
    )


@contextlib.contextmanager
def _attached(con: duckdb.DuckDBPyConnection, path: Path):
    if not path.is_file():
        raise WallboardError(f"{path}: no such published file")
    try:
        con.execute(f"attach {warehouse.sql_literal(str(path))} as {SOURCE} (read_only)")
    except duckdb.Error as error:
        raise WallboardError(f"{path}: cannot be read as a published file: {error}") from None
    try:
        yield _columns(con)
    except duckdb.Error as error:
        raise WallboardError(f"{path}: {error}") from None
    finally:
        con.execute(f"detach {SOURCE}")


def _day_columns(tables: dict[str, list[str]]) -> tuple[str, ...]:
    wanted = ["tenant_id", "kpi_date", "service_level_seconds", "is_day_complete"]
    for name in PROJECT_TILES:
        wanted.append(name)
        if KPIS[name].target:
            wanted.append(KPIS[name].target)
    return tuple(wanted)


def _latest_days(con, tables: dict[str, list[str]], tenant: str | None = None) -> dict[str, dict]:
    """Per tenant: its latest complete day (its own max(kpi_date) where is_day_complete) and its latest
    day; a file without is_day_complete (an early release) counts every day as complete."""
    columns = tables["rpt_daily_kpis"]
    complete = "is_day_complete" if "is_day_complete" in columns else "true"
    where = "where tenant_id = ?" if tenant else ""
    return {
        row["tenant_id"]: row
        for row in _rows(
            con,
            f"select tenant_id, max(kpi_date) filter (where {complete}) as latest_complete, max(kpi_date) as latest "
            f"from {_table('rpt_daily_kpis')} {where} group by 1",
            [tenant] if tenant else [],
        )
    }


def _day_row(con, tables, tenant: str, day: dt.date) -> dict:
    rows = _rows(
        con,
        f"select {_select(tables['rpt_daily_kpis'], _day_columns(tables))} from {_table('rpt_daily_kpis')} "
        "where tenant_id = ? and kpi_date = ?",
        [tenant, day],
    )
    return rows[0] if rows else {}


def _sl_label(row: dict) -> str | None:
    seconds = row.get("service_level_seconds")
    return None if seconds is None else f"Service level ({float(seconds):g} s)"


def _day_tiles(row: dict, tenant: str, day: dt.date, kpis: tuple[str, ...], partial: bool = False) -> list[dict]:
    return [
        tile(name, row, tenant, day, partial=partial, label=_sl_label(row) if name == "service_level_rate" else None)
        for name in kpis
    ]


# --- the charts (Vega-Lite specs, plain dicts) ------------------------------------------------------

INK = "#cbd5e1"
GRID = "#1e293b"
REFORECAST_COLOUR = "#f472b6"
REFORECAST_AGENTS_COLOUR = "#c084fc"
REFORECAST_DASH = [7, 4]
TENANT_COLOURS = "tableau10"


def _spec(title: str, rows: list[dict], layers: list[dict] | dict, height: int | dict = 200) -> dict:
    spec = {
        "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
        "title": title,
        "width": "container",
        "height": height,
        "autosize": {"type": "fit-x", "contains": "padding"},
        "background": "transparent",
        "data": {"values": [_jsonable_row(row) for row in rows]},
        "config": {
            "font": "system-ui, sans-serif",
            "title": {"color": "#f1f5f9", "fontSize": 18, "anchor": "start", "fontWeight": 600},
            "axis": {
                "labelColor": INK, "titleColor": INK, "gridColor": GRID, "domainColor": "#475569",
                "tickColor": "#475569", "labelFontSize": 13, "titleFontSize": 13, "labelOverlap": True,
            },
            "legend": {
                "labelColor": INK, "titleColor": INK, "labelFontSize": 13, "titleFontSize": 13, "orient": "bottom",
                "direction": "horizontal", "columns": 2, "labelLimit": 260,
            },
            "view": {"stroke": None},
            "line": {"strokeWidth": 3},
            "point": {"size": 60, "filled": True},
        },
    }
    if isinstance(layers, list):
        spec["layer"] = layers
    else:
        spec.update(layers)
    return spec


def _percent_axis(title: str | None = None) -> dict:
    return {"format": ".0%", "title": title}


def _date_axis(field: str) -> dict:
    """An x axis of ISO dates (days or weeks' first days), labelled "02 Mar" whatever the viewer's zone."""
    return {"field": field, "type": "ordinal", "sort": "ascending", "title": None,
            "axis": {"labelExpr": "utcFormat(toDate(datum.value), '%d %b')", "labelAngle": 0}}


def _daily_trend_charts(days: list[dict], sl_target) -> dict:
    rates = [
        {"date": row["kpi_date"], "measure": KPIS[name].label, "value": row[name]}
        for row in days
        for name in TREND_RATES
        if row.get(name) is not None
    ]
    layers: list[dict] = [{
        "mark": {"type": "line", "point": True},
        "encoding": {
            "x": _date_axis("date"),
            "y": {"field": "value", "type": "quantitative", "axis": _percent_axis(), "scale": {"domain": [0, 1]}},
            "color": {"field": "measure", "type": "nominal", "title": None,
                      "scale": {"domain": [KPIS[name].label for name in TREND_RATES],
                                "range": ["#38bdf8", "#a3e635", "#f87171"]}},
            "tooltip": [{"field": "date"}, {"field": "measure"}, {"field": "value", "format": ".1%"}],
        },
    }]
    if sl_target is not None:
        layers.append({"mark": {"type": "rule", "strokeDash": [6, 4], "color": "#38bdf8"},
                       "encoding": {"y": {"datum": float(sl_target)}}})
    offered = [{"date": row["kpi_date"], "offered": row["offered_count"]} for row in days]
    return {
        "trend_rates": _spec("Service level, answer and abandon rates by day", rates, layers),
        "trend_offered": _spec("Offered by day", offered, {
            "mark": {"type": "bar", "color": "#818cf8"},
            "encoding": {"x": _date_axis("date"), "y": {"field": "offered", "type": "quantitative", "title": None},
                         "tooltip": [{"field": "date"}, {"field": "offered", "format": ","}]},
        }, height=150),
    }


def _interval_charts(intervals: list[dict], sl_target, prefix: str = "interval", today: dict | None = None) -> dict:
    """The day by interval (charts ``<prefix>_volume``, ``_service_level``, ``_agents``): offered vs forecast,
    service level per queue, agents required vs logged in (sums over the queues; service level per queue,
    as it is defined per queue).

    ``today`` (:func:`_so_far`: the partial day): offered and logged in only on the intervals the data has
    reached (``is_so_far``), agents required by Erlang C on the complete intervals, and on the intervals
    not complete the reforecast (offered and Erlang C agents, dashed, in their own colour; where the file
    has it); a dotted rule where the complete intervals end."""
    reforecast = today is not None and today["has_reforecast"]
    labels = list(dict.fromkeys(row["time"] for row in intervals))
    time_axis = {"field": "time", "type": "ordinal", "sort": labels, "title": None,
                 "axis": {"labelAngle": -45, "labelOverlap": True}}
    volume = []
    agents = []
    per_interval: dict[str, dict] = {}
    for row in intervals:
        slot = per_interval.setdefault(row["time"], {"offered": None, "forecast": None, "reforecast": None,
                                                     "required": None, "reforecast_required": None, "logged": None})
        so_far = row.get("is_so_far", True)
        complete = row.get("is_interval_complete") is not False  # unknown (an earlier release): as complete
        if so_far:
            slot["offered"] = (slot["offered"] or 0) + (row["offered_count"] or 0)
        for key, column, counted in (
            ("forecast", "forecast_offered_count", True), ("required", "erlang_c_agents", complete),
            ("logged", "logged_in_agents", so_far), ("reforecast", "reforecast_offered_count", not complete),
            ("reforecast_required", "reforecast_erlang_c_agents", not complete),
        ):
            if counted and row.get(column) is not None:
                slot[key] = (slot[key] or 0) + float(row[column])
    for time_label, slot in per_interval.items():
        if slot["offered"] is not None:
            volume.append({"time": time_label, "measure": "offered", "value": slot["offered"]})
        for measure, key in (("forecast", "forecast"), ("reforecast", "reforecast")):
            if slot[key] is not None:
                volume.append({"time": time_label, "measure": measure, "value": round(slot[key], 2)})
        for measure, key in (("required (Erlang C)", "required"), ("reforecast (Erlang C)", "reforecast_required"),
                             ("logged in", "logged")):
            if slot[key] is not None:
                agents.append({"time": time_label, "measure": measure, "value": round(slot[key], 2)})
    service = [
        {"time": row["time"], "queue": row["queue_id"], "value": row["service_level_rate"]}
        for row in intervals if row.get("service_level_rate") is not None
    ]
    volume_measures, volume_colours = ["offered", "forecast"], ["#fbbf24", "#818cf8"]
    agent_measures, agent_colours = ["required (Erlang C)", "logged in"], ["#f87171", "#4ade80"]
    if reforecast:
        volume_measures.append("reforecast")
        volume_colours.append(REFORECAST_COLOUR)
        agent_measures.insert(1, "reforecast (Erlang C)")
        agent_colours.insert(1, REFORECAST_AGENTS_COLOUR)
    measure_colours = {"field": "measure", "type": "nominal", "title": None,
                       "scale": {"domain": volume_measures, "range": volume_colours}}
    sl_layers: list[dict] = [{
        "mark": {"type": "line", "point": True},
        "encoding": {"x": time_axis,
                     "y": {"field": "value", "type": "quantitative", "axis": _percent_axis(),
                           "scale": {"domain": [0, 1]}},
                     "color": {"field": "queue", "type": "nominal", "title": "queue"},
                     "tooltip": [{"field": "time"}, {"field": "queue"}, {"field": "value", "format": ".1%"}]},
    }]
    if sl_target is not None:
        sl_layers.append({"mark": {"type": "rule", "strokeDash": [6, 4], "color": "#4ade80"},
                          "encoding": {"y": {"datum": float(sl_target)}}})
    volume_layers: list[dict] = [
        {"transform": [{"filter": "datum.measure === 'offered'"}], "mark": {"type": "bar", "opacity": 0.85},
         "encoding": {"x": time_axis, "y": {"field": "value", "type": "quantitative", "title": None},
                      "color": measure_colours, "tooltip": [{"field": "time"}, {"field": "value"}]}},
        {"transform": [{"filter": "datum.measure === 'forecast'"}], "mark": {"type": "line", "point": True},
         "encoding": {"x": time_axis, "y": {"field": "value", "type": "quantitative"},
                      "color": measure_colours, "tooltip": [{"field": "time"}, {"field": "value"}]}},
    ]
    agent_encoding = {"x": time_axis, "y": {"field": "value", "type": "quantitative", "title": None},
                      "color": {"field": "measure", "type": "nominal", "title": None,
                                "scale": {"domain": agent_measures, "range": agent_colours}},
                      "tooltip": [{"field": "time"}, {"field": "measure"}, {"field": "value"}]}
    agent_mark = {"type": "line", "point": True, "interpolate": "step-after"}
    agent_layers: list[dict] | dict = {"mark": agent_mark, "encoding": agent_encoding}
    if reforecast:
        volume_layers.append(
            {"transform": [{"filter": "datum.measure === 'reforecast'"}],
             "mark": {"type": "line", "point": True, "strokeDash": REFORECAST_DASH},
             "encoding": {"x": time_axis, "y": {"field": "value", "type": "quantitative"},
                          "color": measure_colours, "tooltip": [{"field": "time"}, {"field": "measure"},
                                                                {"field": "value"}]}})
        agent_layers = [
            {"transform": [{"filter": "datum.measure !== 'reforecast (Erlang C)'"}], "mark": agent_mark,
             "encoding": agent_encoding},
            {"transform": [{"filter": "datum.measure === 'reforecast (Erlang C)'"}],
             "mark": agent_mark | {"strokeDash": REFORECAST_DASH}, "encoding": agent_encoding},
        ]
        if today.get("first_open"):
            # where the complete intervals end: the start of the one filling
            edge = {"mark": {"type": "rule", "strokeDash": [2, 3], "color": INK, "strokeWidth": 2},
                    "encoding": {"x": {"datum": today["first_open"]["time"], "type": "ordinal",
                                       "bandPosition": 0}}}
            volume_layers.append(edge)
            agent_layers.append(edge)
    return {
        f"{prefix}_volume": _spec(
            "Offered so far vs forecast" if today is not None else "Offered vs forecast", volume, volume_layers,
        ),
        f"{prefix}_service_level": _spec(
            "Service level by queue so far" if today is not None else "Service level by queue", service, sl_layers,
        ),
        f"{prefix}_agents": _spec("Agents required vs logged in", agents, agent_layers),
    }


def _campaign_chart(campaigns: list[dict]) -> dict:
    rows = [
        {"campaign": row["campaign_name"] or row["campaign_id"], "roi": row["roi_trailing_7d"],
         "pause": "pause recommended" if row["is_pause_recommended"] else "keep",
         "threshold": row["roi_pause_threshold"]}
        for row in campaigns if row.get("roi_trailing_7d") is not None
    ]
    return _spec("ROI over the last 7 days", rows, [
        {"mark": "bar",
         "encoding": {"y": {"field": "campaign", "type": "nominal", "title": None, "sort": "x"},
                      "x": {"field": "roi", "type": "quantitative", "title": None},
                      "color": {"field": "pause", "type": "nominal", "title": None,
                                "scale": {"domain": ["keep", "pause recommended"], "range": ["#4ade80", "#f87171"]}},
                      "tooltip": [{"field": "campaign"}, {"field": "roi", "format": ".2f"}, {"field": "pause"}]}},
        {"mark": {"type": "rule", "strokeDash": [6, 4], "color": "#fbbf24"},
         "encoding": {"x": {"aggregate": "max", "field": "threshold", "type": "quantitative"}}},
    ], height={"step": 34})


def _week_charts(weeks: list[dict], names: dict[str, str]) -> dict:
    charts = {}
    for name in CENTER_TREND_KPIS:
        kpi = KPIS[name]
        rows = [
            {"week": row["period_start"], "tenant": names.get(row["tenant_id"], row["tenant_id"]), "value": row[name],
             "complete": "yes" if row.get("is_period_complete") else "not yet"}
            for row in weeks if row.get(name) is not None
        ]
        y = {"field": "value", "type": "quantitative", "title": None}
        if kpi.unit == "rate":  # the tenants' differences, not the distance from 0
            y |= {"axis": _percent_axis(), "scale": {"zero": False}}
        charts[f"weeks_{name}"] = _spec(f"{kpi.label} by week", rows, {
            "mark": {"type": "line", "point": True},
            "encoding": {"x": _date_axis("week"),
                         "y": y,
                         "color": {"field": "tenant", "type": "nominal", "title": None,
                                   "scale": {"scheme": TENANT_COLOURS}},
                         "tooltip": [{"field": "tenant"}, {"field": "week", "title": "week of"},
                                     {"field": "value", "format": ".1%" if kpi.unit == "rate" else ","},
                                     {"field": "complete"}]},
        }, height=200)
    return charts


def _jsonable(value):
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if _not_finite(value):
        return None
    return value


def _jsonable_row(row: dict) -> dict:
    return {key: _jsonable(value) for key, value in row.items()}


# --- the pages' content -------------------------------------------------------------------------------


def _project_page(con, tables: dict[str, list[str]], tenant: str, name: str) -> dict:
    """One tenant's page, from its own file (attached as ``src``)."""
    page = {"tenant_id": tenant, "name": name, "charts": {}, "notes": [], "sections": {}}
    if "rpt_daily_kpis" not in tables:
        page["notes"].append(_missing("rpt_daily_kpis"))
        return page
    days = _latest_days(con, tables, tenant).get(tenant)
    if not days:
        page["notes"].append("No figures published for this project yet: its first complete day shows here.")
        return page
    complete, latest = days["latest_complete"], days["latest"]
    page["latest_complete"] = complete
    page["alerts"] = _service_alerts(con, tables, tenant, latest)
    if complete is not None:
        row = _day_row(con, tables, tenant, complete)
        page["tiles"] = _day_tiles(row, tenant, complete, PROJECT_TILES)
        page["sections"]["intervals"] = _intervals(con, tables, tenant, complete, row.get("service_level_target"))
        page["sections"]["trend"] = _trend(con, tables, tenant, complete, row.get("service_level_target"))
        page["sections"]["month"] = _month(con, tables, tenant, complete)
        page["sections"]["campaigns"] = _campaigns(con, tables, tenant, complete)
        page["sections"]["benchmark"] = _benchmark(con, tables, tenant, complete)
        for section in page["sections"].values():
            page["charts"].update(section.pop("charts", {}))
    if latest is not None and latest != complete:
        row = _day_row(con, tables, tenant, latest)
        page["partial"] = {
            "date": latest, "tiles": _day_tiles(row, tenant, latest, PROJECT_TILES, partial=True),
            "intervals": _intervals(con, tables, tenant, latest, row.get("service_level_target"), today=True),
        }
        page["charts"].update(page["partial"]["intervals"].pop("charts", {}))
    return page


def _intervals(con, tables, tenant: str, day: dt.date, sl_target, today: bool = False) -> dict:
    """The day by interval: its charts (``interval_*``) and its five worst intervals. ``today``: the
    partial day so far instead (charts ``today_*``, no worst five: an interval still filling has no
    service level to rank yet), with where its data ends, the callers still waiting and the reforecast
    of the rest (:func:`_so_far`)."""
    section: dict = {"note": None}
    columns = tables.get("fct_queue_intervals")
    if columns is None:
        section["note"] = _missing("fct_queue_intervals")
        return section
    wanted = ("queue_id", "interval_start_at", "offered_count", "answered_count", "abandoned_count",
              "service_level_rate", "asa_seconds", "forecast_offered_count", "erlang_c_agents", "logged_in_agents",
              *(INTRADAY_COLUMNS if today else ()))
    # the local time label; a fall-back night repeats one, marked with a prime the second time
    intervals = _rows(
        con,
        f"""
        select {_select(columns, wanted)},
            strftime(interval_start_local, '%H:%M')
                || case when dense_rank() over (
                    partition by strftime(interval_start_local, '%H:%M') order by interval_start_at
                ) > 1 then '′' else '' end as time
        from {_table('fct_queue_intervals')}
        where tenant_id = ? and interval_date = ?
        order by interval_start_at, queue_id
        """,
        [tenant, day],
    )
    if not intervals:
        section["note"] = "No intervals published for this day."
        return section
    if today:
        section |= _so_far(intervals, columns)
        section["charts"] = _interval_charts(intervals, sl_target, "today", today=section)
        return section
    section["charts"] = _interval_charts(intervals, sl_target)
    worst = [row for row in intervals if (row["offered_count"] or 0) > 0 and row["service_level_rate"] is not None]
    worst.sort(key=lambda row: (row["service_level_rate"], -row["offered_count"], row["interval_start_at"]))
    section["worst"] = [
        {**row, "service_level_text": shown(row["service_level_rate"], "rate"),
         "asa_text": shown(row["asa_seconds"], "seconds"),
         "required_text": shown(row["erlang_c_agents"], "count"),
         "logged_text": "–" if row["logged_in_agents"] is None else f"{float(row['logged_in_agents']):.1f}"}
        for row in worst[:WORST_INTERVALS]
    ]
    return section


def _so_far(intervals: list[dict], columns: list[str]) -> dict:
    """Where a partial day's data ends: ``first_open``, the first interval not complete (the data ends in
    it; its UTC start and local time), or None; each row marked ``is_so_far`` (the data has reached it:
    complete, or the one filling); ``waiting``, the callers still waiting (sum of waiting_count);
    ``reforecast`` and ``forecast``, the rest of the day's offered (the intervals not complete) as
    reforecast and as forecast. A file without the intraday columns (an earlier release): every interval
    so far, the rest None, and a note."""
    missing = [name for name in INTRADAY_COLUMNS if name not in columns]
    open_rows = [row for row in intervals if row["is_interval_complete"] is False]
    first = min(open_rows, key=lambda row: row["interval_start_at"], default=None)
    for row in intervals:
        row["is_so_far"] = first is None or row["interval_start_at"] <= first["interval_start_at"]

    def total(column: str, rows: list[dict]):
        values = [float(row[column]) for row in rows if column not in missing and row[column] is not None]
        return sum(values) if values else None

    waiting = None if "waiting_count" in missing else sum(row["waiting_count"] or 0 for row in intervals)
    reforecast, forecast = total("reforecast_offered_count", open_rows), total("forecast_offered_count", open_rows)
    return {
        "note": "marts.fct_queue_intervals has no intraday columns yet (an earlier release published it): the "
                "next publish adds where the data ends, the callers waiting and the reforecast" if missing else None,
        "has_reforecast": not missing,
        "first_open": None if first is None else {"at": first["interval_start_at"], "time": first["time"]},
        "waiting": waiting,
        "waiting_value": machine_value(waiting),
        "waiting_text": shown(waiting, "count"),
        "reforecast_value": machine_value(reforecast),
        "reforecast_text": shown(reforecast, "count"),
        "forecast_text": shown(forecast, "count"),
    }


def _trend(con, tables, tenant: str, day: dt.date, sl_target) -> dict:
    days = _rows(
        con,
        f"select kpi_date, {_select(tables['rpt_daily_kpis'], CENTER_TILES)} from {_table('rpt_daily_kpis')} "
        "where tenant_id = ? and kpi_date > ? and kpi_date <= ? order by kpi_date",
        [tenant, day - dt.timedelta(days=TREND_DAYS), day],
    )
    section: dict = {"charts": _daily_trend_charts(days, sl_target), "weeks": [], "note": None}
    columns = tables.get("rpt_kpis_by_period")
    if columns is None:
        section["note"] = _missing("rpt_kpis_by_period")
        return section
    weeks = _rows(
        con,
        f"select period_start, {_select(columns, (*WEEK_COLUMNS, *WEEK_TARGETS, 'is_period_complete'))} "
        f"from {_table('rpt_kpis_by_period')} where tenant_id = ? and period_grain = 'week' "
        "and period_start > ? and period_start <= ? order by period_start",
        [tenant, day - dt.timedelta(days=TREND_DAYS), day],
    )
    section["weeks"] = [
        {"period_start": week["period_start"], "complete": week["is_period_complete"],
         "cells": [tile(name, week, tenant, week["period_start"], grain="week", partial=not week["is_period_complete"])
                   for name in WEEK_COLUMNS]}
        for week in weeks
    ]
    return section


def _month(con, tables, tenant: str, day: dt.date) -> dict:
    """The month of the latest complete day: QA and CSAT against target, the previous month and a
    year before."""
    columns = tables.get("rpt_kpis_by_period")
    if columns is None:
        return {"note": _missing("rpt_kpis_by_period"), "tiles": []}
    start = day.replace(day=1)
    wanted = ["is_period_complete"]
    for name in MONTH_TILES:
        wanted += [name, KPIS[name].target, f"{name}_previous_period", f"{name}_previous_year"]
    rows = _rows(
        con,
        f"select {_select(columns, wanted)} from {_table('rpt_kpis_by_period')} "
        "where tenant_id = ? and period_grain = 'month' and period_start = ?",
        [tenant, start],
    )
    if not rows:
        return {"note": "No month figures published yet.", "tiles": [], "start": start}
    row = rows[0]
    tiles = []
    for name in MONTH_TILES:
        month_tile = tile(name, row, tenant, start, grain="month", partial=not row["is_period_complete"])
        if not row["is_period_complete"]:  # the month so far: coloured against the target all the same
            kpi = KPIS[name]
            month_tile["status"] = status(row.get(name), row.get(kpi.target), kpi.higher_is_better)
        month_tile["notes"] = [
            f"previous month {shown(row[f'{name}_previous_period'], 'rate')}",
            f"a year before {shown(row[f'{name}_previous_year'], 'rate')}",
        ]
        tiles.append(month_tile)
    return {"note": None, "tiles": tiles, "start": start, "complete": row["is_period_complete"]}


def _campaigns(con, tables, tenant: str, day: dt.date) -> dict:
    """Each campaign with offers in the last 4 weeks, as of its latest day up to the latest complete one."""
    columns = tables.get("fct_campaign_daily")
    if columns is None:
        return {"note": _missing("fct_campaign_daily"), "rows": []}
    wanted = ("campaign_id", "campaign_name", "offer_date", "offer_count", "accepted_count", "revenue_trailing_7d",
              "cost_trailing_7d", "roi", "roi_trailing_7d", "roi_pause_threshold", "is_pause_recommended")
    rows = _rows(
        con,
        f"""
        select {_select(columns, wanted)} from {_table('fct_campaign_daily')}
        where tenant_id = ? and offer_date > ? and offer_date <= ?
        qualify row_number() over (partition by campaign_id order by offer_date desc) = 1
        order by is_pause_recommended desc, roi_trailing_7d nulls last, campaign_id
        """,
        [tenant, day - dt.timedelta(days=TREND_DAYS), day],
    )
    if not rows:
        return {"note": "No campaigns with offers in the last 4 weeks.", "rows": []}
    for row in rows:
        row["roi_text"] = "–" if row["roi"] is None else f"{float(row['roi']):.2f}"
        row["roi_7d_text"] = "–" if row["roi_trailing_7d"] is None else f"{float(row['roi_trailing_7d']):.2f}"
        row["revenue_text"] = shown(row["revenue_trailing_7d"], "count")
        row["cost_text"] = shown(row["cost_trailing_7d"], "count")
    return {"note": None, "rows": rows, "charts": {"campaign_roi": _campaign_chart(rows)}}


def _benchmark(con, tables, tenant: str, day: dt.date) -> dict:
    """The tenant against the center, as its own file holds it: its value, its rank where the file has
    one, the center's quartiles where at least 5 tenants have a value (publish masks the rest)."""
    columns = tables.get("rpt_tenant_benchmark")
    if columns is None:
        return {"note": _missing("rpt_tenant_benchmark"), "rows": []}
    wanted = ("period_grain", "kpi_name", "kpi_value", "tenant_rank", "tenants_ranked", "center_p25",
              "center_median", "center_p75", "is_center_shareable")
    rows = _rows(
        con,
        f"select {_select(columns, wanted)} from {_table('rpt_tenant_benchmark')} where tenant_id = ? and "
        "((period_grain = 'day' and period_start = ?) or (period_grain = 'month' and period_start = ?))",
        [tenant, day, day.replace(day=1)],
    )
    by_kpi: dict[str, dict] = {}
    for row in rows:
        if row["kpi_name"] in KPIS:
            by_kpi.setdefault(row["kpi_name"], {})[row["period_grain"]] = row
    shown_rows = []
    for name in BENCHMARK_KPIS:
        if name not in by_kpi:
            continue
        kpi = KPIS[name]
        cells = []
        for grain in ("day", "month"):
            row = by_kpi[name].get(grain, {})
            quartiles = [row.get(column) for column in ("center_p25", "center_median", "center_p75")]
            if row.get("is_center_shareable") is False:  # fewer than 5 tenants: never shown, whatever the file holds
                quartiles = [None, None, None]
            cells.append({
                "value": shown(row.get("kpi_value"), kpi.unit),
                "rank": f"{row['tenant_rank']} of {row['tenants_ranked']}" if row.get("tenant_rank") else "–",
                "center": " · ".join(shown(value, kpi.unit) for value in quartiles)
                if any(value is not None for value in quartiles) else "–",
            })
        shown_rows.append({"label": kpi.label, "cells": cells})
    return {"note": None if shown_rows else "No benchmark rows for this day yet.", "rows": shown_rows,
            "month": day.replace(day=1)}


def _service_alerts(con, tables, tenant: str, day: dt.date) -> dict:
    """The service-alert episodes of ``day`` (the tenant's latest: today so far, or its latest complete
    day): those open, each with its breach and its dispatch ladder (``marts.fct_service_alert_steps``,
    the recommended step marked), and those closed that day. A file without the ladder (an earlier
    release: no steps table, or fct_service_alerts without its ladder columns) shows the episodes
    without it, and says so."""
    section: dict = {"date": day, "notes": [], "open": [], "closed": [], "known": False}
    columns = tables.get("fct_service_alerts")
    if columns is None:
        section["notes"].append(_missing("fct_service_alerts"))
        return section
    section["known"] = True
    steps_columns = tables.get("fct_service_alert_steps")
    has_ladder = steps_columns is not None and all(name in columns for name in ALERT_LADDER_COLUMNS)
    if steps_columns is None:
        section["notes"].append(_missing("fct_service_alert_steps"))
    if any(name not in columns for name in ALERT_LADDER_COLUMNS):
        section["notes"].append(
            "marts.fct_service_alerts has no dispatch ladder yet (an earlier release published it): the next "
            "publish adds it"
        )
    episodes = _rows(
        con,
        f"select {_select(columns, (*ALERT_COLUMNS, *ALERT_LADDER_COLUMNS))} from {_table('fct_service_alerts')} "
        "where tenant_id = ? and episode_date = ? order by interval_start_at, queue_id",
        [tenant, day],
    )
    ladders: dict[tuple, list[dict]] = {}
    if steps_columns is not None:
        for step in _rows(
            con,
            f"""
            select {_select(steps_columns, STEP_COLUMNS, 'steps')}
            from {_table('fct_service_alert_steps')} as steps
            inner join {_table('fct_service_alerts')} as alerts
                on steps.tenant_id = alerts.tenant_id and steps.queue_id = alerts.queue_id
                and steps.interval_start_at = alerts.interval_start_at
            where alerts.tenant_id = ? and alerts.episode_date = ? and alerts.is_open
            order by steps.queue_id, steps.interval_start_at, steps.step
            """,
            [tenant, day],
        ):
            ladders.setdefault((step["queue_id"], step["interval_start_at"]), []).append(step)
    for episode in episodes:
        episode["since"] = f"{episode['interval_start_local']:%H:%M}"
        end = episode["interval_end_local"]
        episode["until"] = "" if end is None else "24:00" if end.date() > day else f"{end:%H:%M}"
        if not episode["is_open"]:
            section["closed"].append(episode)
            continue
        episode["breach"] = _breach(episode, tenant, day)
        episode["breach_labels"] = ", ".join(
            KPIS[name].label if name in KPIS else name for name in _breach_names(episode["breaches"])
        )
        episode["agents_before_text"] = _agents_text(episode["agents_before"])
        episode["service_level_before_text"] = shown(episode["service_level_before"], "rate")
        episode["has_ladder"] = has_ladder
        episode["ladder"] = [
            step | {
                "label": LADDER_ACTIONS.get(step["action"], step["action"]),
                "is_recommended": step["step"] is not None and step["step"] == episode["recommended_step"],
                "agents_text": _agents_text(step["agents"]),
                "service_level_after_text": shown(step["service_level_after"], "rate"),
            }
            for step in ladders.get((episode["queue_id"], episode["interval_start_at"]), [])
        ]
        recommended = [step for step in episode["ladder"] if step["is_recommended"]]
        episode["recommended"] = recommended[0] if recommended else None
        section["open"].append(episode)
    return section


def _breach(episode: dict, tenant: str, day: dt.date) -> dict:
    """An open episode's breach as a KPI element (grain ``episode``: a row of fct_service_alerts): the
    first breached rule's value against its alert threshold, coloured by :func:`status` against it."""
    kpi = KPIS.get(episode["kpi_name"]) or Kpi(episode["kpi_name"] or "", episode["kpi_name"] or "", "count")
    value, threshold = episode["kpi_value"], episode["threshold_value"]
    return {
        "kpi": kpi.column,
        "label": kpi.label,
        "tenant": tenant,
        "date": day.isoformat(),
        "grain": "episode",
        "value": machine_value(value),
        "text": shown(value, kpi.unit),
        "threshold": machine_value(threshold),
        "threshold_text": f"alert {'below' if kpi.higher_is_better else 'above'} {shown(threshold, kpi.unit)}",
        "status": status(value, threshold, kpi.higher_is_better),
        "partial": False,
    }


def _breach_names(breaches) -> list[str]:
    """fct_service_alerts.breaches, a JSON array as text (a list, read from a LIST column), as names."""
    if breaches is None:
        return []
    if isinstance(breaches, str):
        try:
            breaches = json.loads(breaches)
        except ValueError:
            return [breaches]
    return [str(name) for name in breaches] if isinstance(breaches, list) else [str(breaches)]


def _agents_text(value) -> str:
    """Agents, or agent-equivalents (a share of an agent's time), to two decimals at most: 1.25, 0.4, 2."""
    if value is None or _not_finite(value):
        return "–"
    return f"{float(value):.2f}".rstrip("0").rstrip(".")


def _open_alerts(con, tables) -> dict[str, int]:
    """Per tenant: its service-alert episodes open on its latest day (max kpi_date of rpt_daily_kpis)."""
    if "fct_service_alerts" not in tables:
        return {}
    return {
        row["tenant_id"]: row["open_count"]
        for row in _rows(
            con,
            f"""
            select alerts.tenant_id, count(*) filter (where alerts.is_open) as open_count
            from {_table('fct_service_alerts')} as alerts
            inner join (
                select tenant_id, max(kpi_date) as latest from {_table('rpt_daily_kpis')} group by 1
            ) as days
                on alerts.tenant_id = days.tenant_id and alerts.episode_date = days.latest
            group by 1
            """,
        )
    }


def _center_page(con, tables: dict[str, list[str]], pages: set[str], names: dict[str, str]) -> dict:
    page = {"charts": {}, "notes": [], "cards": [], "ranking": None}
    if "rpt_daily_kpis" not in tables:
        page["notes"].append(_missing("rpt_daily_kpis"))
        return page
    latest = _latest_days(con, tables)
    tenants = sorted(set(latest) | pages)
    if not tenants:
        page["notes"].append("No figures published yet.")
        return page
    ranking_day, ranks = _ranking(con, tables, latest)
    has_alerts = "fct_service_alerts" in tables
    open_alerts = _open_alerts(con, tables)
    cards = []
    for tenant in tenants:
        complete = (latest.get(tenant) or {}).get("latest_complete")
        card = {"tenant_id": tenant, "name": names.get(tenant, tenant), "link": tenant in pages,
                "latest_complete": complete, "tiles": [], "rank": ranks.get(tenant, {}).get(RANKED_BY),
                "open_alerts": open_alerts.get(tenant, 0) if has_alerts and tenant in latest else None}
        if complete is not None:
            card["tiles"] = _day_tiles(_day_row(con, tables, tenant, complete), tenant, complete, CENTER_TILES)
        cards.append(card)
    cards.sort(key=lambda card: (card["rank"] is None, (card["rank"] or {}).get("rank") or 0, card["tenant_id"]))
    page["cards"] = cards
    if ranking_day is not None:
        page["ranking"] = {
            "day": ranking_day,
            "kpis": [KPIS[name].label for name in BENCHMARK_KPIS],
            "rows": [
                {"name": card["name"], "tenant_id": card["tenant_id"],
                 "cells": [ranks.get(card["tenant_id"], {}).get(name) or {"text": "–", "rank": None}
                           for name in BENCHMARK_KPIS]}
                for card in cards
            ],
        }
    elif "rpt_tenant_benchmark" not in tables:
        page["notes"].append(_missing("rpt_tenant_benchmark"))
    if not has_alerts:
        page["notes"].append(_missing("fct_service_alerts"))
    columns = tables.get("rpt_kpis_by_period")
    if columns is None:
        page["notes"].append(_missing("rpt_kpis_by_period"))
    else:
        until = max((row["latest_complete"] for row in latest.values() if row["latest_complete"]), default=None)
        if until is not None:
            weeks = _rows(
                con,
                f"select tenant_id, period_start, {_select(columns, (*CENTER_TREND_KPIS, 'is_period_complete'))} "
                f"from {_table('rpt_kpis_by_period')} where period_grain = 'week' and period_start > ? "
                "and period_start <= ? order by tenant_id, period_start",
                [until - dt.timedelta(weeks=CENTER_TREND_WEEKS), until],
            )
            page["charts"] = _week_charts(weeks, names)
    return page


def _ranking(con, tables, latest: dict[str, dict]) -> tuple[dt.date | None, dict[str, dict[str, dict]]]:
    """The benchmark's day rows of one day for every tenant, so that ranks compare like with like: the
    earliest of the tenants' latest complete days (a tenant in a time zone behind has not finished the
    day the others have), leaving out a tenant with no complete day in the week before the newest one
    (it stopped delivering; its card shows its own day). Returns the day and tenant -> kpi -> value and rank."""
    columns = tables.get("rpt_tenant_benchmark")
    days = [row["latest_complete"] for row in latest.values() if row["latest_complete"] is not None]
    if columns is None or not days:
        return None, {}
    day = min(day for day in days if day >= max(days) - dt.timedelta(days=RANKING_RECENT_DAYS))
    ranks: dict[str, dict[str, dict]] = {}
    for row in _rows(
        con,
        f"select {_select(columns, ('tenant_id', 'kpi_name', 'kpi_value', 'tenant_rank', 'tenants_ranked'))} "
        f"from {_table('rpt_tenant_benchmark')} where period_grain = 'day' and period_start = ?",
        [day],
    ):
        if row["kpi_name"] not in KPIS:
            continue
        ranks.setdefault(row["tenant_id"], {})[row["kpi_name"]] = {
            "text": shown(row["kpi_value"], KPIS[row["kpi_name"]].unit),
            "rank": row["tenant_rank"],
            "of": row["tenants_ranked"],
        }
    return day, ranks


# --- writing the folder --------------------------------------------------------------------------------


@functools.cache
def _templates():
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(ASSETS_DIR / "templates"),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["day"] = lambda value: "" if value is None else f"{value:%a %d %b %Y}"
    environment.filters["machine"] = machine_value
    return environment


def _script_json(value: dict) -> str:
    """JSON for a <script type="application/json"> element: no "<" that could end it."""
    return json.dumps(value, default=_jsonable, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _render(folder: Path, template: str, page: dict, stamp: str, generated: str) -> None:
    from markupsafe import Markup

    folder.mkdir(exist_ok=True)
    data = {"stamp": stamp, "poll_seconds": POLL_SECONDS, "charts": page.pop("charts", {})}
    html = _templates().get_template(template).render(
        page=page, stamp=stamp, generated=generated, assets=PAGE_ASSETS, chart_names=sorted(data["charts"]),
        data=Markup(_script_json(data)),
    )
    (folder / "index.html").write_text(html, encoding="utf-8")
    (folder / STAMP_FILE).write_text(json.dumps({"stamp": stamp}), encoding="utf-8")
    shutil.copytree(ASSETS_DIR / "static", folder / PAGE_ASSETS)


def tenant_names() -> dict[str, str]:
    """Tenant id -> name, from callops.yml (none when it cannot be read: the pages show ids)."""
    try:
        return {tenant.id: tenant.name for tenant in load_config().tenants}
    except ConfigError:
        return {}


def write(center: Path, tenants: dict[str, Path], out: Path, names: dict[str, str] | None = None,
          stamp: str | None = None) -> dict:
    """A complete wallboard in the new folder ``out``: the center's page from the ``center`` file, each
    tenant's page from its own file in ``tenants`` (tenant id -> path), nothing else. The files are
    attached read-only (candidates not yet swapped in will do). ``names``: tenant id -> name to show
    (default: callops.yml's). Returns the pages written and the seconds it took."""
    began = time.perf_counter()
    names = tenant_names() if names is None else names
    stamp = stamp or version_stamp()
    for tenant in tenants:
        if not TENANT_ID_PATTERN.match(tenant):
            raise WallboardError(f"{tenant!r}: not a tenant id (lowercase letters, digits and _, a letter first)")
    if out.exists():
        raise WallboardError(f"{out}: already exists; a wallboard is written into a new folder")
    out.mkdir(parents=True)
    generated = dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
    pages = []
    with duckdb.connect() as con:
        with _attached(con, center) as tables:
            page = _center_page(con, tables, set(tenants), names)
        _render(out, "center.html.j2", page, stamp, generated)
        pages.append("index.html")
        for tenant, path in sorted(tenants.items()):
            # this tenant's file alone: its folder can hold nothing of another tenant's
            with _attached(con, path) as tables:
                page = _project_page(con, tables, tenant, names.get(tenant, tenant))
            _render(out / tenant, "project.html.j2", page, stamp, generated)
            pages.append(f"{tenant}/index.html")
    return {"path": str(out), "pages": pages, "stamp": stamp, "seconds": round(time.perf_counter() - began, 3)}


def served_dir(published_dir: Path | None = None) -> Path:
    return (published_dir or settings.published_dir()) / WALLBOARD


def publish(center: Path, tenants: dict[str, Path], published_dir: Path, names: dict[str, str] | None = None) -> dict:
    """:func:`write` a new wallboard beside the served one, then serve it: ``published_dir/wallboard``
    is a symbolic link replaced in one rename. On any failure the wallboard served stays as it was."""
    try:
        access = private.tenant_access()
    except private.GroupError as error:
        raise WallboardError(str(error)) from None
    versions = published_dir / VERSIONS
    versions.mkdir(parents=True, exist_ok=True)
    access.folder(versions)
    try:
        with warehouse.file_lock(versions / ".lock", "the wallboard", wait_seconds=LOCK_WAIT_SECONDS):
            # what a publish that died half-way left (the lock says no other is writing now)
            for leftover in versions.glob(".*.tmp"):
                shutil.rmtree(leftover, ignore_errors=True)
            stamp = version_stamp()
            staging = versions / f".{stamp}.tmp"
            try:
                done = write(center, tenants, staging, names=names, stamp=stamp)
                private.apply_tree(staging, access)
                final = versions / stamp
                os.rename(staging, final)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            link = served_dir(published_dir)
            new_link = published_dir / f".{WALLBOARD}.{stamp}.link"
            os.symlink(Path(VERSIONS) / stamp, new_link)
            os.replace(new_link, link)
            fsync(published_dir)
            _remove_old(versions, keep=stamp)
    except warehouse.LockBusy as busy:
        raise WallboardError(f"another process is writing the wallboard ({busy})") from None
    return done | {"path": str(link), "folder": str(final)}


def _remove_old(versions: Path, keep: str) -> None:
    """The served folder and the ``KEEP_PREVIOUS`` before it stay; older ones go."""
    folders = sorted(path for path in versions.iterdir() if path.is_dir() and not path.name.startswith("."))
    for old in folders[: -(KEEP_PREVIOUS + 1)]:
        if old.name != keep:
            shutil.rmtree(old, ignore_errors=True)


def regenerate() -> dict:
    """``callops wallboard``: the wallboard again from the files served now."""
    center = settings.published_db_path()
    if not center.is_file():
        raise WallboardError(f"{center}: nothing published yet (run `callops run` first)")
    tenants = {path.stem: path for path in tenant_files(center)}
    return publish(center, tenants, settings.published_dir())


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Files of the served wallboard, never cached (a reload after a publish gets the new ones), and no
    line per request (a screen polls every POLL_SECONDS)."""

    def end_headers(self) -> None:
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - the base class's name
        pass


def server(host: str, port: int, root: Path | None = None) -> http.server.ThreadingHTTPServer:
    """An HTTP server of the wallboard on ``host``:``port`` (0: a free port); ``serve_forever()`` runs it.
    ``root`` is the link a publish replaces, not its target: each request reads the wallboard served then."""
    root = root or served_dir()
    if not root.exists():
        raise WallboardError(f"{root}: no wallboard yet (run `callops run` or `callops wallboard` first)")
    handler = functools.partial(_Handler, directory=str(root))
    return http.server.ThreadingHTTPServer((host, port), handler)
