"""Screenshots of Snakemake's HTML report in headless Chromium: what a reader of the report sees.

    snakemake --report report.html
    python .ci/screenshot_report.py report.html OUT_DIR

Needs Debian's chromium (`apt-get install chromium`) and the `playwright` package (its own
browser download is not used). Writes OUT_DIR/<n>-<page>.png: the landing page, the summary
page (table, recommendations, DPO's cost over SFT's), and for each task under Figures its
first figure.
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
        shots = []

        def shot(name: str) -> None:
            page.wait_for_timeout(1500)
            path = out_dir / f"{len(shots)}-{name}.png"
            page.screenshot(path=str(path))
            shots.append(path)
            print(path)

        def open_item(category: list[str], file_name: str) -> None:
            page.goto(report.resolve().as_uri())
            page.wait_for_timeout(1500)
            for level in category:
                page.get_by_text(level, exact=True).first.click()
                page.wait_for_timeout(500)
            # Each result's row has a "view" (eye) link first.
            page.locator("tr", has_text=file_name).first.locator("a").first.click()

        page.goto(report.resolve().as_uri())
        shot("landing")
        open_item(["Summary"], "summary.html")
        shot("summary")
        page.goto(report.resolve().as_uri())
        page.wait_for_timeout(1500)
        page.get_by_text("Figures", exact=True).first.click()
        page.wait_for_timeout(500)
        # The task folders: the navigation panel's entries under Figures (the page beside it
        # holds the report's first page, not the list).
        tasks = [line.strip() for line in page.locator("nav").first.inner_text().splitlines()
                 if line.strip()][3:]
        for task in tasks:
            open_item(["Figures", task], f"figures/{task}/")
            shot(f"figures-{task}")
        browser.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
