"""Text encodings and compression: UTF-8, GBK/GB18030 (Chinese Windows exports), gzip-rotated files."""

from __future__ import annotations

import datetime as dt
import gzip

from callops import pipeline, warehouse
from callops.load.base import detect_encoding
from tests.conftest import deliver

DAY = dt.date(2026, 3, 2)
HEADER = "contact_id,queue_id,entered_at,outcome,wait_seconds,talk_seconds,agent_id\n"
ROWS = "c1,信用卡中心,2026-03-02 09:00:00,answered,12,100,张伟\nc2,信用卡中心,2026-03-02 09:05:00,abandoned,40,,\n"


def load() -> dict:
    return pipeline.load_deliveries("r1", DAY, DAY)


def query(sql: str) -> list[tuple]:
    with warehouse.connection() as con:
        return con.execute(sql).fetchall()


def write_bytes(home, name: str, data: bytes):
    path = deliver(home, "shanghai_bank", DAY.isoformat(), name, "")
    path.write_bytes(data)
    return path


def test_a_gbk_export_is_detected_and_read_correctly(home):
    path = write_bytes(home, "export.csv", (HEADER + ROWS).encode("gbk"))
    assert detect_encoding(path) == "gb18030"
    summary = load()
    assert summary == {"files": 1, "failed": [], "rows_loaded": 2, "rows_rejected": 0, "held": []}
    assert query("select contact_id, queue_id, agent_id from raw.telephony_contacts order by 1") == [
        ("c1", "信用卡中心", "张伟"),
        ("c2", "信用卡中心", None),
    ]
    assert query("select encoding from raw.manifest") == [("gb18030",)]
    assert "read as GB18030" in query("select message from ops.run_files")[0][0]


def test_gb18030_four_byte_characters_survive(home):
    # U+20000 exists in GB18030 (four-byte sequence) but not in GBK.
    text = HEADER + "c1,q1,2026-03-02 09:00:00,answered,12,100,𠀀明\n"
    write_bytes(home, "export.csv", text.encode("gb18030"))
    load()
    assert query("select agent_id from raw.telephony_contacts") == [("𠀀明",)]


def test_utf8_file_with_one_gbk_line_rejects_only_that_line(home):
    data = (HEADER + ROWS).encode("utf-8") + "c3,信用卡中心,2026-03-02 09:10:00,answered,5,60,李娜\n".encode("gbk")
    path = write_bytes(home, "mixed.csv", data)
    assert detect_encoding(path) == "utf-8"
    summary = load()
    assert summary["rows_loaded"] == 2 and summary["rows_rejected"] == 1
    assert query("select line, reason like 'INVALID ENCODING%' from raw.rejects") == [(4, True)]
    assert query("select agent_id from raw.telephony_contacts where contact_id = 'c1'") == [("张伟",)]


def test_plain_ascii_and_utf8_with_bom_are_utf8(home):
    ascii_path = write_bytes(home, "a.csv", b"contact_id\n1\n")
    bom_path = write_bytes(home, "b.csv", "\ufeff".encode() + (HEADER + ROWS).encode("utf-8"))
    assert detect_encoding(ascii_path) == "utf-8"
    assert detect_encoding(bom_path) == "utf-8"


def test_a_gzipped_file_is_read_whatever_its_name(home):
    write_bytes(home, "contacts.1", gzip.compress((HEADER + ROWS).encode("gbk"), mtime=0))
    summary = load()
    assert summary["rows_loaded"] == 2, summary
    assert query("select agent_id from raw.telephony_contacts where contact_id = 'c1'") == [("张伟",)]
    # The transcoded temporary copy is removed after the load.
    assert not any((home / "tmp").glob("transcoded-*"))


def test_binary_and_broken_files_fail_by_name_and_the_rest_loads(home):
    write_bytes(home, "good.csv", (HEADER + ROWS).encode())
    write_bytes(home, "report.xlsx", b"PK\x03\x04" + b"\x00" * 64)
    write_bytes(home, "dump.bin", b"\x01\x02\x00\x00binary")
    write_bytes(home, "queue_log.2.gz", gzip.compress(b"1717400000|NONE|NONE|NONE|QUEUESTART|\n" * 100)[:40])
    summary = load()
    failed = "\n".join(summary["failed"])
    assert "landing/telephony/shanghai_bank/2026-03-02/report.xlsx: the file is a zip archive or Excel workbook" in failed
    assert "dump.bin: the file is binary (it holds NUL bytes)" in failed
    assert "queue_log.2.gz: cannot be read" in failed
    assert summary["rows_loaded"] == 2


def test_an_empty_delivery_loads_nothing_and_is_not_a_failure(home):
    write_bytes(home, "queue_log", b"")
    write_bytes(home, "queue_log.1.gz", gzip.compress(b"\n\n", mtime=0))
    summary = load()
    assert summary == {"files": 2, "failed": [], "rows_loaded": 0, "rows_rejected": 0, "held": []}
    assert query("select file_name, file_format, status from raw.manifest order by 1") == [
        ("queue_log", "empty", "loaded"),
        ("queue_log.1.gz", "empty", "loaded"),
    ]
    assert "empty file: nothing to load" in query("select message from ops.run_files limit 1")[0][0]
