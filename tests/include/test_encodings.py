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
    assert (
        "landing/telephony/shanghai_bank/2026-03-02/report.xlsx: the file is a zip archive or Excel workbook" in failed
    )
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


# --- stray bytes do not change a whole file's encoding (issue 15, defect 4) ---------------------------

LATIN1_ROWS = "c1,q1,2026-03-02 09:00:00,answered,12,100,Smith\nc2,q1,2026-03-02 09:05:00,answered,8,90,Müller\n"


def set_encoding(home, encoding: str) -> None:
    """Give the tenant shanghai_bank the callops.yml key ``encoding``."""
    config = home.parent / "callops.yml"
    text = config.read_text().replace("timezone: Asia/Shanghai", f"timezone: Asia/Shanghai\n    encoding: {encoding}")
    config.write_text(text)


def test_an_ascii_file_with_one_latin1_line_stays_utf8_and_quarantines_that_line(home):
    # As GB18030 the whole file decodes, "Müller" as "M黮ler": CJK, but no common hanzi.
    path = write_bytes(home, "agents.csv", (HEADER + LATIN1_ROWS).encode("latin-1"))
    assert (HEADER + LATIN1_ROWS).encode("latin-1").decode("gb18030").endswith("M黮ler\n")
    assert detect_encoding(path) == "utf-8"
    summary = load()
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (1, 1)
    assert query("select line, reason like 'INVALID ENCODING%' from raw.rejects") == [(3, True)]
    assert query("select contact_id, agent_id from raw.telephony_contacts") == [("c1", "Smith")]
    assert query("select encoding from raw.manifest") == [("utf-8",)]


def test_the_tenant_encoding_reads_a_legacy_single_byte_export(home):
    set_encoding(home, "CP1252")
    write_bytes(home, "agents.csv", (HEADER + LATIN1_ROWS).encode("cp1252"))
    summary = load()
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (2, 0)
    assert query("select agent_id from raw.telephony_contacts order by contact_id") == [("Smith",), ("Müller",)]
    assert query("select encoding from raw.manifest") == [("cp1252",)]
    assert "read as CP1252" in query("select message from ops.run_files")[0][0]


def test_a_byte_the_tenant_encoding_cannot_decode_quarantines_its_line(home):
    set_encoding(home, "gb18030")
    # 0xFF is no GB18030 byte: line 3 is quarantined, the rest is read as GB18030.
    bad_line = b"c3,q1,2026-03-02 09:10:00,answered,5,60,\xff\n"
    write_bytes(home, "export.csv", (HEADER + ROWS).encode("gb18030") + bad_line)
    summary = load()
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (2, 1)
    assert query("select line, reason like 'INVALID ENCODING%' from raw.rejects") == [(4, True)]
    assert query("select agent_id from raw.telephony_contacts where contact_id = 'c1'") == [("张伟",)]


def cdr_line(i: int, caller: str, queue: str) -> str:
    """A Master.csv line: call i answered in ``queue`` on 2024-06-03, caller name ``caller``."""
    start = f"2024-06-03 09:{3 * i:02d}"
    return (
        f'"","{1000 + i}","600","from-pstn","""{caller}"" <+7495{i:07d}>","PJSIP/trunk-{i:08d}",'
        f'"PJSIP/60{i}-{i:08d}","Queue","{queue}","{start}:00","{start}:30","2024-06-03 09:{3 * i + 2:02d}:30",'
        f'150,120,"ANSWERED","DOCUMENTATION","1717405200.{i}",""\n'
    )


def test_a_cp1251_russian_cdr_with_stray_bytes_is_not_read_as_gb18030(home):
    # Stray 0xA5 bytes (Ґ in CP1251) make every run of Cyrillic bytes even: the file decodes as GB18030,
    # every character CJK ("Иван Петров" -> "肉囗 襄蝠钼"), but only 18 of its 55 ideographs are common hanzi.
    callers = ["Иван Петров", "Анна Смирнова", "Олег СоколовҐ", "ЕленаҐ КузнецоваҐ", "ПавелҐ ПоповҐ", "АнтонҐ Волков"]
    data = "".join(cdr_line(i, caller, "Сервис") for i, caller in enumerate(callers)).encode("cp1251")
    assert data.count(b"\xa5") == 6 and data.decode("gb18030")
    day = dt.date(2024, 6, 3)
    path = deliver(home, "shanghai_bank", day.isoformat(), "Master.csv", "")
    path.write_bytes(data)
    assert detect_encoding(path) == "utf-8"
    summary = pipeline.load_deliveries("r1", day, day)
    # Read as UTF-8 every line with Cyrillic is undecodable: quarantined, the file held back.
    assert (summary["rows_loaded"], summary["rows_rejected"], len(summary["held"])) == (0, 6, 1)
    assert query("select count(*) from raw.rejects where reason like 'INVALID ENCODING%'") == [(6,)]

    set_encoding(home, "cp1251")
    summary = pipeline.load_deliveries("r2", day, day)
    assert (summary["rows_loaded"], summary["rows_rejected"], summary["held"]) == (6, 0, [])
    # The same file is read again, now that the tenant's encoding names another one.
    assert query("select action from ops.run_files where run_id = 'r2'") == [("replaced",)]
    assert query("select distinct queue_id from raw.telephony_contacts") == [("Сервис",)]
    assert query("select encoding from raw.manifest") == [("cp1251",)]


def test_a_utf8_russian_cdr_with_stray_bytes_keeps_its_good_lines(home):
    # Cyrillic in UTF-8 decodes as GB18030 ideographs ("Иван" -> "袠胁邪薪") and a stray 0xA5 before an ASCII
    # letter as a private-use character, so the file decodes as GB18030; 4 of its 6 non-ASCII lines are UTF-8.
    callers = ["Pe\udca5trov", "Иван Петров", "Анна Смирнова", "Sido\udca5rov", "Олег Соколов", "Мария Кузнецова"]
    data = "".join(cdr_line(i, caller, "Сервис") for i, caller in enumerate(callers)).encode("utf-8", "surrogateescape")
    assert data.decode("gb18030")
    day = dt.date(2024, 6, 3)
    path = deliver(home, "shanghai_bank", day.isoformat(), "Master.csv", "")
    path.write_bytes(data)
    assert detect_encoding(path) == "utf-8"
    summary = pipeline.load_deliveries("r1", day, day)
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (4, 2)
    rejects = query("select line, reason like 'INVALID ENCODING%' from raw.rejects order by line")
    assert rejects == [(1, True), (4, True)]
    assert query("select distinct queue_id from raw.telephony_contacts") == [("Сервис",)]


def test_a_gbk_export_whose_first_character_is_also_valid_utf8_is_gb18030(home):
    # 职 is D6 B0 in GBK, which is also a valid UTF-8 character (U+05B0): UTF-8-looking text before the
    # first byte that is not UTF-8 does not make the file UTF-8.
    rows = "c1,职业培训,2026-03-02 09:00:00,answered,12,100,张伟\nc2,客服中心,2026-03-02 09:05:00,answered,8,90,李娜\n"
    path = write_bytes(home, "export.csv", (HEADER + rows).encode("gbk"))
    assert detect_encoding(path) == "gb18030"
    summary = load()
    assert (summary["rows_loaded"], summary["rows_rejected"]) == (2, 0)
    assert query("select queue_id, agent_id from raw.telephony_contacts order by 1") == [
        ("客服中心", "李娜"),
        ("职业培训", "张伟"),
    ]
