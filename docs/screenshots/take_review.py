"""Take the README screenshots of the review workflow from a running demo.

    DEMO_PASSWORD=... .venv/bin/python docs/screenshots/take_review.py --sign 3 --lock 12

Logs in as the demo monitor on http://127.0.0.1:8000 (`make demo` or `seed_demo` then
`runserver`) and saves, next to this script: review_record.png (the read view of the visit
with the demo's first open query), review_query.png (the query closed after a correction,
with its conversation) and review_sdv.png (the forms left to verify). With --sign, the
investigator's sign page of that participant (database id; the demo's stale signature
shows best) is saved as review_sign.png; with --lock, the data manager's lock page of that
participant (the demo's locked casebook) as review_lock.png.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

BASE_URL = "http://127.0.0.1:8000"
USERNAME = "monitor"
SIGNER, LOCKER = "investigator", "datamanager"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-quic"]


def _logged_in(browser, base_url: str, username: str, password: str, next_url: str):
    """A new page of `browser`, logged in as `username`, showing `next_url`."""
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.goto(f"{base_url}/accounts/login/?next={next_url}")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    return page


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=BASE_URL)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    parser.add_argument("--sign", type=int, help="participant id for review_sign.png")
    parser.add_argument("--lock", type=int, help="participant id for review_lock.png")
    args = parser.parse_args()
    password = os.environ.get("DEMO_PASSWORD")
    if not password:
        parser.error("set DEMO_PASSWORD to the demo monitor's password")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = _logged_in(browser, args.base_url, USERNAME, password, "/safety/queries/?state=all")
        page.wait_for_selector("[data-testid=queries]")
        links = page.locator("[data-testid=queries] tr[data-query]")
        closed = links.filter(has=page.locator("[data-state=closed]")).first
        opened = links.filter(has=page.locator("[data-state=open]")).last
        open_url = opened.locator("a").first.get_attribute("href")
        page.goto(f"{args.base_url}{closed.locator('a').first.get_attribute('href')}")
        page.screenshot(path=str(args.out / "review_query.png"), full_page=True)
        page.goto(f"{args.base_url}{open_url}")
        record = page.locator("[data-testid=query-about] a").first.get_attribute("href")
        if not re.match(r"^/safety/records/", record or ""):
            raise SystemExit("the open query names no record")
        page.goto(f"{args.base_url}{record}")
        page.screenshot(path=str(args.out / "review_record.png"), full_page=True)
        page.goto(f"{args.base_url}/safety/verification/")
        page.set_viewport_size({"width": 1280, "height": 700})
        page.screenshot(path=str(args.out / "review_sdv.png"))
        for user, participant, url, name in (
            (SIGNER, args.sign, "/participants/{}/sign/", "review_sign.png"),
            (LOCKER, args.lock, "/participants/{}/lock/", "review_lock.png"),
        ):
            if participant is not None:
                page = _logged_in(browser, args.base_url, user, password, url.format(participant))
                page.screenshot(path=str(args.out / name), full_page=True)
        browser.close()
    print(f"saved the review screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
