"""How far a delivery's agent-state rows reach into other files' days (issue 15).

An agent's state lasts until the next change in the same queue, so a file's rows change the days
between them and their neighbours in other files; a logout holds no figure, so the reach stops at it.
Each case below is one agent's timeline, worked by hand: which UTC days a file changes.
"""

from __future__ import annotations

import datetime as dt

import duckdb
import pytest

from callops.load import registry


def reach(rows: list[tuple], file_id: str) -> tuple[dt.date, dt.date] | None:
    """file_dates of ``file_id`` over agent-state rows (file, queue, state, 'YYYY-MM-DD HH:MM', line)."""
    con = duckdb.connect()
    con.execute("create schema raw")
    for table in registry.raw_tables():  # every raw table file_dates reads, empty but this one
        if table != "raw.agent_state_events":
            dated_by = registry.DATED_BY.get(table, "delivery_date")
            con.execute(f"create table {table} (file_id varchar, {dated_by} timestamp)")
    con.execute(
        "create table raw.agent_state_events (file_id varchar, tenant_id varchar, agent_id varchar,"
        " queue_id varchar, state varchar, event_at timestamp, source_line bigint, delivery_date date)"
    )
    con.executemany(
        "insert into raw.agent_state_events values (?, 't', 'a1', ?, ?, ?, ?, cast(? as date))",
        [(file, queue, state, at, line, at[:10]) for file, queue, state, at, line in rows],
    )
    return registry.file_dates(con, file_id)


D = dt.date


def test_a_shift_between_logouts_reaches_no_other_day():
    rows = [
        ("mon", "q1", "logged_in", "2026-01-05 08:00", 1), ("mon", "q1", "logged_out", "2026-01-05 17:00", 2),
        ("thu", "q1", "logged_in", "2026-01-08 08:00", 1), ("thu", "q1", "logged_out", "2026-01-08 17:00", 2),
        ("sun", "q1", "logged_in", "2026-01-11 08:00", 1), ("sun", "q1", "logged_out", "2026-01-11 17:00", 2),
    ]
    assert reach(rows, "thu") == (D(2026, 1, 8), D(2026, 1, 8))


def test_a_file_that_ends_a_login_reaches_back_to_it_and_on_to_the_next_change():
    # "mon" logs in and never out; "wed" logs out: without "wed" the agent is logged in Monday to Friday
    rows = [
        ("mon", "q1", "logged_in", "2026-01-05 08:00", 1),
        ("wed", "q1", "logged_out", "2026-01-07 17:00", 1),
        ("fri", "q1", "logged_in", "2026-01-09 08:00", 1), ("fri", "q1", "logged_out", "2026-01-09 17:00", 2),
    ]
    assert reach(rows, "wed") == (D(2026, 1, 5), D(2026, 1, 9))


def test_a_file_that_leaves_the_agent_logged_in_reaches_the_next_change():
    rows = [
        ("mon", "q1", "logged_in", "2026-01-05 08:00", 1), ("mon", "q1", "paused", "2026-01-05 17:00", 2),
        ("fri", "q1", "logged_out", "2026-01-09 17:00", 1),
    ]
    assert reach(rows, "mon") == (D(2026, 1, 5), D(2026, 1, 9))


def test_an_all_queues_change_belongs_to_each_queue_of_the_agent():
    # q1 ends Monday logged out; a PAUSEALL on Wednesday (no queue) is q1's next change too
    rows = [
        ("mon", "q1", "logged_in", "2026-01-05 08:00", 1), ("mon", "q1", "ready", "2026-01-05 17:00", 2),
        ("wed", None, "paused", "2026-01-07 10:00", 1),
        ("wed", "q2", "logged_in", "2026-01-07 09:00", 2), ("wed", "q2", "logged_out", "2026-01-07 18:00", 3),
    ]
    assert reach(rows, "mon") == (D(2026, 1, 5), D(2026, 1, 7))
    assert reach(rows, "wed") == (D(2026, 1, 5), D(2026, 1, 7))


def test_other_queues_do_not_carry_the_reach():
    # q2's long login is its own lane: Wednesday's q1 shift between logouts changes no other day
    rows = [
        ("mon", "q2", "logged_in", "2026-01-05 08:00", 1),
        ("tue", "q1", "logged_out", "2026-01-06 17:00", 1),
        ("wed", "q1", "logged_in", "2026-01-07 08:00", 1), ("wed", "q1", "logged_out", "2026-01-07 17:00", 2),
        ("fri", "q2", "logged_out", "2026-01-09 17:00", 1),
    ]
    assert reach(rows, "wed") == (D(2026, 1, 7), D(2026, 1, 7))


@pytest.mark.parametrize("state, expected", [("logged_out", (D(2026, 1, 7), D(2026, 1, 7))),
                                             ("ready", (D(2026, 1, 5), D(2026, 1, 7)))])
def test_an_agent_without_queues_has_one_timeline(state, expected):
    rows = [
        ("mon", None, "logged_in", "2026-01-05 08:00", 1), ("mon", None, state, "2026-01-05 17:00", 2),
        ("wed", None, "logged_in", "2026-01-07 08:00", 1), ("wed", None, "logged_out", "2026-01-07 17:00", 2),
    ]
    assert reach(rows, "wed") == expected
