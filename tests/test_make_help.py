"""`make help` (issue 18): every target with a description, the descriptions in one column however long
the longest target's name, and written for users (no issue numbers)."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from tests.conftest import REPO


@pytest.mark.skipif(shutil.which("make") is None, reason="no make")
def test_make_help_lists_every_described_target_in_one_column():
    described = re.findall(r"(?m)^([a-z-]+):.*## ", (REPO / "Makefile").read_text())
    done = subprocess.run(["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, timeout=60, check=True)
    lines = done.stdout.splitlines()
    assert [line.split()[1] for line in lines] == described
    width = max(map(len, described))
    for line, target in zip(lines, described, strict=True):
        assert line.startswith(f"  make {target.ljust(width)}  ") and line[7 + width + 2] != " ", line
        assert not re.search(r"\bissue \d+", line), line
