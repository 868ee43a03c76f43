"""Take the README screenshots of the dashboard and the overview from a running demo.

    DEMO_PASSWORD=... .venv/bin/python docs/screenshots/take.py 3
    DEMO_PASSWORD=... .venv/bin/python docs/screenshots/take.py 3 --language zh-hans

Logs in as the demo investigator on http://127.0.0.1:8000 (`make demo` or `seed_demo` then
`runserver`), opens the dashboard of the participant with that database id and the trial
overview, and saves dashboard.png and overview.png next to this script. With --language,
the language is chosen on the login page first (and so saved on the investigator's
account), and the worklist is taken too: dashboard.zh-hans.png, overview.zh-hans.png and
worklist.zh-hans.png.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE_URL = "http://127.0.0.1:8000"
USERNAME = "investigator"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
CHART_READY = "(id) => window.Chart && Chart.getChart(document.getElementById(id))"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("participant_id", type=int, help="the participant's database id")
    parser.add_argument("--base-url", default=BASE_URL)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--width", type=int, default=1280, help="viewport width in pixels")
    parser.add_argument("--language", default="", help="e.g. zh-hans; default: as the account")
    args = parser.parse_args()
    password = os.environ.get("DEMO_PASSWORD")
    if not password:
        parser.error("set DEMO_PASSWORD to the demo investigator's password")

    dashboard = f"/participants/{args.participant_id}/dashboard/"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": args.width, "height": 900})
        page.goto(f"{args.base_url}/accounts/login/?next={dashboard}")
        suffix = ""
        if args.language:
            page.click(f"[data-testid=language-{args.language}]")
            page.wait_for_selector(f"html[lang={args.language}]")
            suffix = f".{args.language}"
        page.fill("input[name=username]", USERNAME)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_selector("[data-testid=dashboard-header]")
        if page.locator("#platelet-chart").count():  # drawn once the participant has counts
            page.wait_for_function(CHART_READY, arg="platelet-chart")
        page.screenshot(path=str(args.out / f"dashboard{suffix}.png"), full_page=True)

        page.goto(f"{args.base_url}/participants/overview/")
        page.wait_for_function(CHART_READY, arg="response-chart")
        page.screenshot(path=str(args.out / f"overview{suffix}.png"), full_page=True)
        saved = [f"dashboard{suffix}.png", f"overview{suffix}.png"]
        if args.language:
            page.goto(f"{args.base_url}/visits/worklist/")
            page.wait_for_selector("main h1")
            page.screenshot(path=str(args.out / f"worklist{suffix}.png"), full_page=True)
            saved.append(f"worklist{suffix}.png")
        browser.close()
    print("saved " + ", ".join(str(args.out / name) for name in saved))
    return 0


if __name__ == "__main__":
    sys.exit(main())
