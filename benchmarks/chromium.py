"""How the report is opened in a real browser: Debian's headless Chromium driven by Playwright.

One place for the tests (tests/test_report.py) and benchmarks/report_size.py, so that the page the tests
check and the page the benchmark times are opened the same way. The flags keep Chromium off the network
(this machine reaches none, and its background requests would be refused by the dozen).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
VIEWPORT = {"width": 1200, "height": 900}


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
