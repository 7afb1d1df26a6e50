"""Drive Locust's web UI in real headless Chromium as a user would, and say what happened, as
JSON on stdout: two swarms in a row (Start, wait, Stop, New), then a swarm the form refuses.

Run as its own process (Playwright's sync API and gevent do not share one):

    python tests/loadtests/swarm_in_browser.py URL SCREENSHOT.png
"""

from __future__ import annotations

import json
import os
import sys

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("TAGOCHECK_CHROMIUM", "/usr/bin/chromium")


def fill(page, users: int, devices: str) -> None:
    page.locator("input[name='userCount']").fill(str(users))
    page.locator("input[name='spawnRate']").fill(str(users))
    custom = page.get_by_text("Custom parameters")
    if not page.locator("input[name='devices']").is_visible():
        custom.click()
    page.locator("input[name='devices']").fill(devices)


def swarm(page, users: int, devices: str, seconds: float) -> None:
    fill(page, users, devices)
    page.get_by_role("button", name="Start").click()
    page.get_by_role("button", name="Stop").wait_for(timeout=30_000)
    page.wait_for_timeout(seconds * 1000)
    page.get_by_role("button", name="Stop").click()
    page.get_by_role("button", name="New").wait_for(timeout=60_000)


def main(url: str, screenshot: str) -> None:
    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto(url)
        page.locator("input[name='userCount']").wait_for(timeout=30_000)
        page.get_by_text("Custom parameters").click()
        seen["leaks_default"] = page.locator("input[name='checkRateLimitLeaks']").input_value()
        page.get_by_text("Most p99 latency").wait_for(timeout=10_000)  # our labels, not derived
        seen["labels"] = [label.inner_text() for label in page.locator("label").all()]
        seen["fields"] = [
            field.get_attribute("name") for field in page.locator("form input[name]").all()
        ]
        swarm(page, 4, "40", 4)
        # the verdict shows as the swarm ends, without a reload (Locust stops polling its logs)
        verdict = page.locator("#tagocheck-verdicts .tagocheck-verdict").first
        verdict.wait_for(timeout=60_000)
        seen["verdict"] = verdict.inner_text()
        seen["report_status"] = page.request.get(
            url.rstrip("/") + "/" + verdict.locator("a").get_attribute("href").lstrip("./")
        ).status
        page.get_by_role("button", name="New").click()
        swarm(page, 6, "70", 4)
        page.get_by_role("button", name="New").click()
        fill(page, 3, "-5")
        page.get_by_role("button", name="Start").click()
        refusal = page.get_by_text("swarm refused")
        refusal.wait_for(timeout=15_000)
        seen["refused"] = refusal.first.inner_text()
        seen["still_stopped"] = page.get_by_role("button", name="Start").is_visible()
        page.screenshot(path=screenshot, full_page=True)
        browser.close()
    print(json.dumps(seen))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
