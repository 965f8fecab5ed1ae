"""Text reports for the CLI: a run's per-day summary, published KPIs, quarantined rows."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb

from callops import settings, warehouse

KPI_COLUMNS = (
    "tenant_id",
    "kpi_date",
    "offered_count",
    "answered_count",
    "abandoned_count",
    "short_abandoned_count",
    "answered_within_sl_count",
    "answer_rate",
    "service_level_rate",
    "abandon_rate",
    "asa_seconds",
    "aht_seconds",
)


def format_table(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    def cell(value: object) -> str:
        if value is None:
            return "null"
        if isinstance(value, float):
            return f"{value:.3f}"
        return str(value)

    text_rows = [[cell(v) for v in row] for row in rows]
    widths = [max([len(c)] + [len(r[i]) for r in text_rows]) for i, c in enumerate(columns)]
    numeric = [all(isinstance(row[i], (int, float)) or row[i] is None for row in rows) for i in range(len(columns))]

    def line(values: Sequence[str]) -> str:
        return "  ".join(v.rjust(w) if n else v.ljust(w) for v, w, n in zip(values, widths, numeric)).rstrip()

    return "\n".join([line(columns), line(["-" * w for w in widths]), *(line(r) for r in text_rows)])


@dataclass
class RunSummary:
    status: str
    text: str
    steps: dict[str, str] = field(default_factory=dict)  # step -> its last recorded status


def run_summary(run_id: str) -> RunSummary | None:
    if not settings.build_db_path().exists():
        return None
    with warehouse.session(read_only=True) as con:
        return _run_summary(con, run_id)


def _run_summary(con: duckdb.DuckDBPyConnection, run_id: str) -> RunSummary | None:
    run = con.execute("select status, detail from ops.runs where run_id = ?", [run_id]).fetchone()
    if run is None:
        return None
    status, detail = run
    per_day = con.execute(
        """
        select delivery_date, tenant_id, feed, count(*) as files,
            count(*) filter (where action in ('loaded', 'replaced')) as loaded,
            count(*) filter (where action = 'held') as held,
            count(*) filter (where action = 'unchanged') as unchanged,
            count(*) filter (where action = 'failed') as failed,
            sum(rows_loaded) as rows_loaded, sum(rows_rejected) as rows_rejected,
            sum(rows_superseded) as rows_superseded, sum(rows_skipped) as rows_skipped
        from ops.run_files where run_id = ?
        group by all order by all
        """,
        [run_id],
    ).fetchall()
    lines = ["", "per delivery day:"]
    if per_day:
        columns = [
            "delivery_day", "tenant", "feed", "files", "loaded", "held", "unchanged", "failed", "rows", "rejected"
        ]
        # superseded and skipped records only when the run has some (each file's notes say which and why)
        shown = [(i, name) for i, name in ((10, "superseded"), (11, "skipped")) if any(row[i] for row in per_day)]
        lines.append(
            format_table(
                columns + [name for _, name in shown],
                [row[:10] + tuple(row[i] for i, _ in shown) for row in per_day],
            )
        )
    else:
        lines.append("  no deliveries found in the landing zone for this range")
    steps = con.execute(
        "select step, status, detail from ops.run_steps where run_id = ? order by finished_at", [run_id]
    ).fetchall()
    lines += ["", "steps:"]
    skipped: list[str] = []
    for step, step_status, step_json in steps:
        step_detail = json.loads(step_json)
        lines.append(f"  {step:<9} {step_status}{_step_note(step, step_detail)}")
        if step == "load" and isinstance(step_detail, dict):
            skipped += step_detail.get("landing_skipped", [])
    if skipped:  # below the landing root but not deliveries, each with its reason (callops.landing)
        lines += ["", "skipped in the landing zone (not deliveries, the run does not fail for them):"]
        lines += [f"  - {line}" for line in skipped]
    notes = con.execute(
        """
        select files.message from ops.run_files as files
        left join raw.manifest as manifest on files.file_id = manifest.file_id
        where files.run_id = ? and files.message is not null
            and (files.action <> 'unchanged' or manifest.gate_status = 'held')
        order by files.action in ('failed', 'held') desc, files.file_name
        """,
        [run_id],
    ).fetchall()
    problems = (json.loads(detail) or {}).get("problems", []) if detail else []
    if notes or problems:
        lines += ["", "notes and problems:"]
        lines += [f"  - {message}" for (message,) in notes]
        lines += [f"  - {p}" for p in problems if not any(p == m for (m,) in notes)]
    return RunSummary(status=status or "failed", text="\n".join(lines), steps={row[0]: row[1] for row in steps})


def _step_note(step: str, detail: object) -> str:
    # why a step failed, when callops.tasks recorded it (a full disk, a fault); then what the step said
    failure = detail.get("failure") if isinstance(detail, dict) else None
    if failure and set(detail) == {"failure"}:
        return f": {failure}"
    return (f": {failure}" if failure else "") + _step_detail(step, detail)


def _step_detail(step: str, detail: object) -> str:
    if step == "load" and isinstance(detail, dict):
        counts = [f"{detail.get('rows_loaded', 0)} rows", f"{detail.get('rows_rejected', 0)} rejected"]
        counts += [f"{detail[key]} {key[5:]}" for key in ("rows_superseded", "rows_skipped") if detail.get(key)]
        return f"  ({detail.get('files', 0)} files, {', '.join(counts)})"
    if step == "build" and isinstance(detail, dict):
        failures = detail.get("failures") or ([detail["error"]] if detail.get("error") else [])
        plan = f": {detail['plan']}" if detail.get("plan") else ""
        return f"  ({detail.get('nodes', 0)} dbt nodes{plan})" + "".join(f"\n      {f}" for f in failures)
    if step == "validate" and isinstance(detail, dict):
        checks = detail.get("checks") or []
        failed = [d for d in checks if not d.get("success")]
        text = f"  ({len(checks)} checks on {detail.get('partitions', 0)} changed tenant-days, {len(failed)} failed)"
        for item in failed:
            keys = f" at {', '.join(item['failing_keys'])}" if item.get("failing_keys") else ""
            more = item.get("unexpected_count", 0) - len(item.get("failing_keys") or [])
            keys += f" and {more} more" if more > 0 and keys else ""
            why = f": {item['notes']}" if item.get("notes") else ""
            text += f"\n      [{item['severity']}] {item['table']}: {item['check']} on {item['column']}{keys}{why}"
        if detail.get("data_docs"):
            text += f"\n      Data Docs: {detail['data_docs']}"
        return text
    if step == "publish" and isinstance(detail, dict):
        tables = ", ".join(f"marts.{t} {n} rows" for t, n in (detail.get("tables") or {}).items())
        return f"  ({detail.get('path')}: {tables})"
    return ""


def published_kpis(tenant: str | None, start: dt.date | None, end: dt.date | None) -> str | None:
    path = settings.published_db_path()
    if not path.exists():
        return None
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            f"""
            select {', '.join(KPI_COLUMNS)} from marts.rpt_daily_kpis
            where ($tenant is null or tenant_id = $tenant)
              and ($start is null or kpi_date >= $start)
              and ($end is null or kpi_date <= $end)
            order by tenant_id, kpi_date
            """,
            {"tenant": tenant, "start": start, "end": end},
        ).fetchall()
    finally:
        con.close()
    header = [c.replace("_count", "").replace("_seconds", "_s") for c in KPI_COLUMNS]
    return f"marts.rpt_daily_kpis ({path}):\n" + format_table(header, rows)


def rejects(tenant: str | None, delivery_date: dt.date | None) -> str:
    if not settings.build_db_path().exists():
        return "no build warehouse yet: nothing was loaded"
    with warehouse.session(read_only=True) as con:
        rows = con.execute(
            """
            select delivery_date, tenant_id, feed, file_name, line, reason, raw_text
            from raw.rejects
            where ($tenant is null or tenant_id = $tenant)
              and ($date is null or delivery_date = $date)
            order by delivery_date, tenant_id, feed, file_name, line
            """,
            {"tenant": tenant, "date": delivery_date},
        ).fetchall()
    if not rows:
        return "no rejected rows"
    return format_table(["delivery_day", "tenant", "feed", "file", "line", "reason", "raw_text"], rows)
