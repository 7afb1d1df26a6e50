"""Open a report in real headless Chromium and say what happened, as JSON on stdout.

Run as its own process: Playwright's sync API and gevent (which Locust patches in when the
load-test tests import it) do not share one process.

    python tests/report/browse.py REPORT.html SCREENSHOT.png
"""

from __future__ import annotations

import json
import os
import sys
from urllib.parse import urlparse

from playwright.sync_api import sync_playwright

CHROMIUM = os.environ.get("TAGOCHECK_CHROMIUM", "/usr/bin/chromium")

# Every .chart's canvases (Bokeh draws inside shadow roots), and how many sampled pixels are
# neither blank nor white: a chart that rendered has axes, lines and labels on it.
CHARTS = """
() => Array.from(document.querySelectorAll('.chart')).map(el => {
  const canvases = [];
  const walk = node => {
    if (!node) return;
    if (node.tagName === 'CANVAS') canvases.push(node);
    if (node.shadowRoot) walk(node.shadowRoot);
    for (const child of node.children || []) walk(child);
  };
  walk(el);
  let painted = 0;
  for (const canvas of canvases) {
    const context = canvas.getContext('2d');
    if (!context || !canvas.width || !canvas.height) continue;
    const data = context.getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < data.length; i += 4 * 37) {
      if (data[i + 3] && (data[i] < 240 || data[i + 1] < 240 || data[i + 2] < 240)) painted++;
    }
  }
  return {name: el.dataset.chart, canvases: canvases.length, painted: painted};
})
"""


# Each Bokeh plot as the browser holds it: its title, its y range as drawn, and the columns of
# its data that hold NaN (a gap: a second nothing was measured in draws no line, not a zero).
PLOTS = """
() => [...Bokeh.documents[0].all_models]
  .filter(m => m.renderers && m.title && m.y_range)
  .map(plot => {
    const nans = {};
    for (const renderer of plot.renderers) {
      const data = renderer.data_source && renderer.data_source.data;
      if (!data) continue;
      for (const [column, values] of Object.entries(data)) {
        const gaps = Array.from(values || []).filter(v => typeof v === 'number' && isNaN(v));
        if (gaps.length) nans[column] = gaps.length;
      }
    }
    return {title: plot.title.text, y_start: plot.y_range.start, y_end: plot.y_range.end, nans};
  })
"""


def main(report: str, screenshot: str) -> dict:
    url = "file://" + os.path.abspath(report)
    found: dict = {"console_errors": [], "page_errors": [], "requests": [], "charts": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on(
                "console",
                lambda m: found["console_errors"].append(m.text) if m.type == "error" else None,
            )
            page.on("pageerror", lambda e: found["page_errors"].append(str(e)))
            page.on("request", lambda r: found["requests"].append(r.url))
            page.goto(url, wait_until="load")
            # Bokeh's documents within 20 s, unless the page has thrown first (it will not
            # build them then: a broken report need not wait the whole time)
            found["bokeh"] = False
            for _ in range(200):
                if page.evaluate("() => !!(window.Bokeh && Bokeh.documents.length > 0)"):
                    found["bokeh"] = True
                    break
                if found["page_errors"]:
                    break
                page.wait_for_timeout(100)
            page.wait_for_timeout(1500)  # Bokeh paints after its documents are built
            found["charts"] = page.evaluate(CHARTS)
            found["plots"] = page.evaluate(PLOTS) if found["bokeh"] else []
            found["verdict"] = page.inner_text("#verdict")
            found["text"] = page.inner_text("main")
            page.screenshot(path=screenshot, full_page=True)
        finally:
            browser.close()
    found["network"] = [
        u for u in found["requests"] if urlparse(u).scheme not in ("file", "data", "blob")
    ]
    found["other_files"] = [
        u for u in found["requests"] if urlparse(u).scheme == "file" and u != url
    ]
    return found


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], sys.argv[2])))
