"""Screenshot an HTML report in headless Chromium (the system's, driven by playwright), e.g. the
README's docs/report.png from the demo's report:

    make demo
    python tools/report_screenshot.py vidsim-demo/report.html docs/report.png --element '#query-4'

`--element` takes a CSS selector (default: the whole page); `--chromium` the browser (default:
$VIDSIM_CHROMIUM, else `chromium` on the PATH).
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("report", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--element", help="CSS selector of the part to capture (default: the whole page)")
    parser.add_argument("--width", type=int, default=1100, help="viewport width in pixels (default: %(default)s)")
    parser.add_argument("--chromium", default=os.environ.get("VIDSIM_CHROMIUM") or shutil.which("chromium"))
    args = parser.parse_args(argv)
    if not args.chromium:
        print("error: no Chromium found (Debian: apt-get install chromium; or pass --chromium)", file=sys.stderr)
        return 1
    if not args.report.is_file():
        print(f"error: {args.report}: no such file", file=sys.stderr)
        return 1
    from playwright.sync_api import sync_playwright

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=args.chromium, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": args.width, "height": 800})
            page.goto(args.report.resolve().as_uri(), wait_until="load")
            if args.element:
                page.locator(args.element).first.screenshot(path=str(args.out))
            else:
                page.screenshot(path=str(args.out), full_page=True)
        finally:
            browser.close()
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
