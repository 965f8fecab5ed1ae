"""Choosing a delivered file's format line by line (issue 15, defect 3).

A file is read as format F when at least half of its first 1,000 non-blank
lines parse as F and none parses as another format; its other lines are
quarantined and the delivery gate holds it back. Any other file fails with one
line: its first line and, for each format, the first rule that line broke.
"""

from __future__ import annotations

import datetime as dt
import random
import string
from pathlib import Path

import pytest

from callops import cli, pipeline, warehouse
from callops.load import asterisk_cdr, connect_ctr, contacts_csv, queue_log, registry
from callops.load.base import Head
from tests.conftest import deliver

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
QUEUE_LOG = (FIXTURES / "queue_log" / "all_verbs" / "queue_log").read_text()
MASTER_CSV = (FIXTURES / "cdr" / "Master.csv").read_text()
CTR_FILE = "my-ctr-stream-1-2024-06-03-09-15-22-3f1c2a6e-6b1d-4c55-9f0e-2a7d3c1b5e90"
CTR_LINES = (FIXTURES / "connect" / CTR_FILE).read_text()
CTR_RECORDS = "".join(line + "\n" for line in CTR_LINES.splitlines() if '"ContactId": "' in line and line.endswith("}"))
CONTACTS = "contact_id,queue_id,entered_at,outcome,wait_seconds\n" + "".join(
    f"c{i},q1,2024-06-03 09:{i:02d}:00,answered,{i}\n" for i in range(20)
)
CDR_LINE = MASTER_CSV.splitlines()[0]
QUEUE_LOG_LINE = "1772413200|NONE|NONE|NONE|QUEUESTART|"


def choose(text: str):
    return registry.examine("telephony", Head("delivery", text, "utf-8"))


def query(sql: str, params: list | None = None) -> list[tuple]:
    with warehouse.connection(read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


# --- the rule, on a file's first lines -------------------------------------------------------------


def test_a_file_is_read_as_the_format_of_at_least_half_its_lines():
    assert choose(f"{QUEUE_LOG_LINE}\nnot a log line\n") == (queue_log, "")
    assert choose(f"{CDR_LINE}\n\n\nnoise\n{CDR_LINE}\nnoise\n") == (asterisk_cdr, "")
    adapter, why = choose(f"{QUEUE_LOG_LINE}\nnoise\nmore noise\n")
    assert adapter is None
    assert "asterisk_queue_log: 1 of 3 lines parse (line 2: has 1 |-separated field(s)" in why


def test_only_the_first_1000_non_blank_lines_count():
    lines = [QUEUE_LOG_LINE] * 500 + ["noise"] * 500
    assert choose("\n\n".join(lines + ["more noise"] * 600) + "\n")[0] is queue_log
    assert choose("\n".join(lines[:499] + ["noise"] * 502) + "\n")[0] is None


def test_a_file_whose_lines_parse_as_two_formats_is_refused():
    adapter, why = choose(f"{QUEUE_LOG_LINE}\n{QUEUE_LOG_LINE}\n{CDR_LINE}\n")
    assert adapter is None
    assert "asterisk_queue_log: line 3 parses as asterisk_cdr" in why


def test_the_header_decides_among_csv_contracts():
    # A header with the required columns of two contracts: the one it has more columns of reads it.
    header = "agent_id,state,event_at,contact_id,queue_id,entered_at,outcome,wait_seconds\n"
    assert choose(header + "a1,ready,2024-06-03 09:00:00,c1,q1,2024-06-03 09:00:00,answered,5\n")[0] is contacts_csv


def test_a_csv_file_whose_first_line_is_blank_is_refused_naming_the_header_rule():
    # The CSV contracts' line rule for a header that does not parse (here: an empty first line) named the
    # LoadError from inside its except block, and Python clears that name when the block ends: format
    # choice crashed with a NameError instead of refusing the file.
    adapter, why = choose("\n" + CONTACTS)
    assert adapter is None
    assert "callops_contact_csv: empty file or empty header line" in why
    assert "callops_agent_state_csv: empty file or empty header line" in why


def test_a_ctr_record_cut_by_the_end_of_the_head_still_reads_as_ctr():
    record = CTR_RECORDS.splitlines()[0]
    assert choose(record[:300])[0] is connect_ctr  # no line break at the end: may stop short
    assert choose(record[:300] + "\n")[0] is None  # a complete line that is no JSON
    # read_head's head of a file of one long line (concatenated records) is cut within a record.
    assert registry.choose("telephony", Head("x", record + record[:300], "utf-8", cut=True)) is connect_ctr


# --- refused files --------------------------------------------------------------------------------


def test_a_file_in_no_format_fails_with_one_line_naming_each_formats_first_broken_rule(home):
    deliver(home, "shanghai_bank", "2026-03-02", "notes.txt", "Call notes: " + "x" * 150 + "\nsecond line\n")
    summary = pipeline.load_deliveries("r1", dt.date(2026, 3, 2), dt.date(2026, 3, 2))
    assert summary["failed"] == [
        "landing/telephony/shanghai_bank/2026-03-02/notes.txt: unknown format for feed 'telephony': "
        f'first line "Call notes: {"x" * 107}…": '
        "asterisk_queue_log: has 1 |-separated field(s), not epoch|callid|queuename|agent|event|data...; "
        "asterisk_cdr: has 1 comma-separated field(s), a Master.csv line has 16 to 21; "
        "amazon_connect_ctr: not a JSON object; "
        "callops_contact_csv: the header lacks contact_id, queue_id, entered_at, outcome; "
        "callops_agent_state_csv: the header lacks agent_id, state, event_at"
    ]


# --- damaged files of a known format --------------------------------------------------------------


def with_garbage(text: str, seed: int) -> str:
    """Every line of ``text`` followed by a line of random printable garbage (no quotes: they would join lines)."""
    rng = random.Random(seed)
    alphabet = string.ascii_letters + string.digits + " |#;:,.~{}[]()!?*&%$@"

    def garbage() -> str:
        return rng.choice(string.ascii_letters) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 60)))

    return "".join(f"{line}\n{garbage()}\n" for line in text.splitlines())


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("queue_log", QUEUE_LOG),
        ("Master.csv", MASTER_CSV),
        ("my-ctr-stream-1-2024-06-03-09-15-22-3f1c2a6e", CTR_RECORDS),
        ("contacts.csv", CONTACTS),
    ],
)
def test_a_file_with_a_garbage_line_after_every_line_is_read_and_held_with_its_garbage_quarantined(
    home, capsys, name, text
):
    day = dt.date(2024, 6, 3)
    deliver(home, "shanghai_bank", day.isoformat(), name, with_garbage(text, seed=15))
    deliver(home, "stockholm_telco", day.isoformat(), name, text)  # the same file undamaged
    summary = pipeline.load_deliveries("r1", day, day)
    assert summary["failed"] == []
    damaged = "landing/telephony/shanghai_bank/2024-06-03/" + name
    assert any(message.startswith(damaged + ": held back by the delivery gate") for message in summary["held"])

    def loaded(tenant: str) -> tuple:
        return query("select file_format, rows_loaded from raw.manifest where tenant_id = ?", [tenant])[0]

    def reject_lines(tenant: str) -> list[int]:
        return [line for (line,) in query("select line from raw.rejects where tenant_id = ? order by line", [tenant])]

    # The real lines load exactly as the undamaged file's; each garbage line (2, 4, ...) is quarantined.
    assert loaded("shanghai_bank") == loaded("stockholm_telco")
    garbage_lines = list(range(2, 2 * len(text.splitlines()) + 1, 2))
    assert reject_lines("shanghai_bank") == sorted([2 * line - 1 for line in reject_lines("stockholm_telco")]
                                                   + garbage_lines)  # fmt: skip
    assert query("select count(*) from raw.rejects where reason is null or reason = ''") == [(0,)]
    assert cli.main(["rejects", "--tenant", "shanghai_bank"]) == 0
    shown = capsys.readouterr().out
    second_line = with_garbage(text, seed=15).splitlines()[1]
    assert name in shown and second_line.strip()[:20] in shown
