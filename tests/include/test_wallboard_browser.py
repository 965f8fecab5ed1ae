"""The wallboard in a real browser (issue 21): headless Chromium (Debian's ``chromium``, driven by playwright)
loads each page of a wallboard written from hand-made published files, from file://, at 1920x1080 and
at 390x844: its tiles carry the marts' values, nothing goes to the console as an error, no request
leaves the file system, every chart is drawn (today's by interval too, with its dashed reforecast), the
service alerts show (an open episode's ladder with its recommended step highlighted, closed ones, the
center's count), the page never scrolls sideways, and the tiles' numbers are big on the wall screen. A
screenshot of each is kept under $CALLOPS_TEST_ARTEFACTS (default: the test's tmp_path, which pytest keeps
for the last runs). Served over http, a page reloads after a publish; from file:// it never polls.

Skipped, naming the install command, where chromium is not installed (`make test` installs it when it
runs as root).
"""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from callops import settings, wallboard
from tests import wallboard_pages as pages
from tests.wallboard_pages import ALPHA, BETA, NAMES

pytestmark = pytest.mark.browser

PAGES = {"center": "index.html", ALPHA: f"{ALPHA}/index.html", BETA: f"{BETA}/index.html"}
SCREENS = {"wall": (1920, 1080), "phone": (390, 844)}
WALL_TILE_FONT_PX = 48  # a tile's number at 1920 px wide: readable across a room
TODAY_CHARTS = ("today_volume", "today_service_level", "today_agents")


@pytest.fixture(scope="module")
def browser():
    with pages.launched_chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def board(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("wallboard")
    published = pages.build(folder / "published")
    wallboard.write(published["center"], published["tenants"], folder / "wallboard", names=NAMES)
    return published | {"out": folder / "wallboard"}


@pytest.mark.parametrize("screen", SCREENS)
def test_each_page_in_chromium_shows_the_marts_offline(browser, board, screen, tmp_path):
    width, height = SCREENS[screen]
    artefacts = pages.artefacts_dir(tmp_path)
    for name, page in PAGES.items():
        shot = artefacts / f"wallboard-{name}-{width}x{height}.png"
        loaded = pages.open_page(browser, board["out"] / page, width, height, screenshot=shot)
        assert loaded["console_errors"] == [], (page, loaded["console_errors"])
        assert loaded["requests"] and all(url.startswith("file://") for url in loaded["requests"]), loaded["requests"]
        assert loaded["charts"] and all(chart["drawn"] for chart in loaded["charts"]), loaded["charts"]
        assert loaded["scrollWidth"] <= loaded["innerWidth"], (page, loaded["scrollWidth"])

        source = board["center"] if name == "center" else board["tenants"][name]
        assert loaded["kpis"]
        for kpi in loaded["kpis"]:
            assert kpi["value"] == pages.mart_value(source, kpi), (page, kpi)
        if name == "center":
            assert {kpi["tenant"] for kpi in loaded["kpis"]} == {ALPHA, BETA}
        else:
            assert {kpi["tenant"] for kpi in loaded["kpis"]} == {name}
        if name == ALPHA:  # its partial day by interval: drawn, the reforecast and the data's edge dashed
            charts = {chart["name"]: chart for chart in loaded["charts"]}
            assert all(charts[chart]["drawn"] for chart in TODAY_CHARTS), charts
            assert charts["today_volume"]["dashed"] and charts["today_agents"]["dashed"], charts
            [today] = [section for section in loaded["sections"] if section["section"] == "today-intervals"]
            assert (today["firstOpenTime"], today["waiting"]) == ("09:30", "5"), today
            assert "5 callers still waiting" in today["text"], today["text"]
            # its open service alert: the breach, the ladder's six steps, the recommended one highlighted
            [alerts] = [section for section in loaded["sections"] if section["section"] == "service-alerts"]
            assert (alerts["openCount"], alerts["closedCount"]) == ("1", "1"), alerts
            assert "Service level 50.0% (alert below 70.0%)" in alerts["text"], alerts["text"]
            assert "Recommended: step 5, agents of other sites" in alerts["text"], alerts["text"]
            assert [step["action"] for step in loaded["steps"]] == [
                "same_site_agents", "ivr_front_service", "outbound_agents", "pause_cross_selling",
                "cross_site_agents", "cross_skill_agents",
            ], loaded["steps"]
            backgrounds = [step["background"] for step in loaded["steps"]]
            assert [step.get("recommended") for step in loaded["steps"]] == [None] * 4 + ["true", None]
            assert backgrounds[4] not in backgrounds[:4] + backgrounds[5:], backgrounds  # highlighted
            assert "82.6%" in loaded["steps"][4]["text"] and "cross_site_agents" in loaded["steps"][4]["text"]
        if name == BETA:  # its latest day: two episodes closed, none open
            [alerts] = [section for section in loaded["sections"] if section["section"] == "service-alerts"]
            assert (alerts["openCount"], alerts["closedCount"]) == ("0", "2"), alerts
            assert "No service alert open" in alerts["text"] and "08:30–10:00 recovered" in alerts["text"], alerts
        if name == "center":
            assert "1 service alert open" in loaded["text"] and "no service alert open" in loaded["text"]
        if screen == "wall":
            assert min(loaded["valueFontPx"]) >= WALL_TILE_FONT_PX, (page, loaded["valueFontPx"])
        assert shot.stat().st_size > 10_000


def test_a_served_page_reloads_after_a_publish_and_one_from_the_file_system_never_polls(
    browser, home, tmp_path, monkeypatch
):
    monkeypatch.setattr(wallboard, "POLL_SECONDS", 1)
    published = pages.build(tmp_path / "published")
    target = settings.published_dir()
    first = wallboard.publish(published["center"], published["tenants"], target, names=NAMES)
    server = wallboard.server("127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    stamp = "() => JSON.parse(document.getElementById('wallboard-data').textContent).stamp"
    context = browser.new_context()
    try:
        page = context.new_page()
        errors: list[str] = []
        page.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/{ALPHA}/index.html", wait_until="load")
        assert page.evaluate(stamp) == first["stamp"]
        with page.expect_event("load", timeout=20_000):
            second = wallboard.publish(published["center"], published["tenants"], target, names=NAMES)
        assert page.evaluate(stamp) == second["stamp"]
        assert errors == []

        local = context.new_page()
        requests: list[str] = []
        local.on("request", lambda request: requests.append(request.url))
        local.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        local.goto(Path(target / "wallboard" / ALPHA / "index.html").as_uri(), wait_until="load")
        local.wait_for_timeout(2_500)  # more than two polls' time
        assert not [url for url in requests if "stamp.json" in url]
        assert errors == []
    finally:
        context.close()
        server.shutdown()
        server.server_close()
