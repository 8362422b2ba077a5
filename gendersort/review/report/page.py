"""The report's page: one self-contained HTML file with its style, its script and its data inline.

Cards are built by the inline script from a JSON blob, a page of them at a time as the reader scrolls, so a
run of tens of thousands of photos opens as fast as one of ten. The script sets text with textContent only,
and the Content-Security-Policy forbids every network request: the report neither leaks nor breaks offline.
"""

from __future__ import annotations

import html
import json
from typing import Any

from gendersort.printable import printable_data

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'unsafe-inline'"
)

STYLE = """
:root { --male: #2f6db5; --female: #a8458f; --unknown: #6b6b6b; --error: #c0392b; --box: #ffd400; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, sans-serif; margin: 0; color: #1d1d1d; background: #f4f4f2; }
header, section { padding: 12px 20px; }
header { background: #fff; border-bottom: 1px solid #ddd; position: sticky; top: 0; z-index: 2; }
h1 { font-size: 20px; margin: 0 0 6px; }
h2 { font-size: 17px; margin: 8px 0; }
.stats { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 0 0 8px; }
.stats div { display: flex; gap: 6px; }
.stats dt { color: #555; }
.stats dd { margin: 0; font-weight: 600; }
.controls { display: flex; flex-wrap: wrap; align-items: center; gap: 8px 16px; }
.controls label { white-space: nowrap; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); gap: 12px; }
.card { margin: 0; background: #fff; border: 1px solid #ddd; border-top: 4px solid var(--unknown);
        border-radius: 6px; padding: 8px; overflow-wrap: anywhere; }
.card.male { border-top-color: var(--male); }
.card.female { border-top-color: var(--female); }
.card.error { border-top-color: var(--error); }
.thumb { position: relative; display: block; width: fit-content; margin: 0 auto 6px; }
.thumb img { display: block; max-width: 160px; max-height: 160px; }
.thumb.missing { width: 160px; height: 120px; display: grid; place-items: center; background: #eee;
                 color: #777; }
.box { position: absolute; border: 2px solid var(--box); box-shadow: 0 0 0 1px #000; pointer-events: none; }
.name { font-weight: 600; }
.label { display: inline-block; color: #fff; border-radius: 3px; padding: 0 5px; margin-right: 4px;
         background: var(--unknown); }
.male .label { background: var(--male); }
.female .label { background: var(--female); }
.error .label { background: var(--error); }
.detail, .truth { color: #444; font-size: 12px; }
.truth { color: var(--error); font-weight: 600; }
.problem { color: var(--error); font-size: 12px; }
.sentinel { height: 1px; }
table.confusion { border-collapse: collapse; margin: 6px 0 12px; }
table.confusion th, table.confusion td { border: 1px solid #bbb; padding: 4px 10px; text-align: right; }
table.confusion th { background: #eee; }
.group-plot, .trade-off { display: block; margin: 4px 0 12px; font-size: 12px; }
.group-plot .tick, .trade-off .tick { fill: #555; }
.group-plot .grid-line, .trade-off .grid-line { stroke: #ddd; }
.group-plot .row-band { fill: transparent; }
.group-plot .group-row { cursor: pointer; }
.group-plot .group-row:hover .row-band { fill: #e8eef7; }
h3 { font-size: 15px; margin: 10px 0 2px; }
.expected { margin: 0 0 8px; color: #333; }
.trade-off { background: #fff; }
"""

SCRIPT = """
"use strict";
const DATA = JSON.parse(document.getElementById("report-data").textContent);
const PAGE_SIZE = 150;

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function thumbnail(row) {
  if (row.thumb === null) return element("div", "thumb missing", "no preview");
  const frame = element("a", "thumb");
  frame.href = row.href;  // the full photo, for a closer look
  frame.target = "_blank";
  frame.title = row.path;
  const image = element("img");
  image.src = DATA.thumbs[row.thumb];
  image.alt = row.name;
  frame.append(image);
  if (row.box) {
    const box = element("div", "box");
    [box.style.left, box.style.top, box.style.width, box.style.height] = row.box.map(v => v + "%");
    frame.append(box);
  }
  return frame;
}

function card(row) {
  const node = element("figure", "card " + row.category);
  const caption = element("figcaption");
  const name = element("div", "name", row.name);
  name.title = row.path;
  const verdict = element("div");
  verdict.append(element("span", "label", row.category), row.sentence);
  caption.append(name, verdict);
  if (row.p_male !== null) caption.append(element("div", "detail", "p_male " + row.p_male.toFixed(3)));
  if (row.faces_text) caption.append(element("div", "detail", row.faces_text));
  if (row.truth) caption.append(element("div", "truth", "truth: " + row.truth));
  for (const problem of row.problems) caption.append(element("div", "problem", problem));
  node.append(thumbnail(row), caption);
  return node;
}

// A grid that renders PAGE_SIZE cards at a time, the next page when its end scrolls near the viewport.
function lazyGrid(container) {
  let rows = [];
  let shown = 0;
  const sentinel = element("div", "sentinel");
  container.after(sentinel);
  const observer = new IntersectionObserver(entries => {
    if (!entries.some(entry => entry.isIntersecting) || shown >= rows.length) return;
    const fragment = document.createDocumentFragment();
    rows.slice(shown, shown + PAGE_SIZE).forEach(row => fragment.append(card(row)));
    shown = Math.min(rows.length, shown + PAGE_SIZE);
    container.append(fragment);
    observer.unobserve(sentinel);  // re-observing reports the sentinel again if it is still in view
    observer.observe(sentinel);
  }, { rootMargin: "1000px" });
  return newRows => {
    rows = newRows;
    shown = 0;
    container.replaceChildren();
    observer.unobserve(sentinel);
    observer.observe(sentinel);
  };
}

// Rows without a confidence (no face, errors) come last either way; ties keep the results file's order.
const confidence = (row, missing) => row.confidence === null ? missing : row.confidence;
const ORDERS = {
  "confidence-ascending": (a, b) => confidence(a, 2) - confidence(b, 2) || a.index - b.index,
  "confidence-descending": (a, b) => confidence(b, -1) - confidence(a, -1) || a.index - b.index,
  "file": (a, b) => a.index - b.index,
};

const showRows = lazyGrid(document.getElementById("cards"));
const categoryBoxes = [...document.querySelectorAll("input[name=category]")];
const slider = document.getElementById("max-confidence");
const order = document.getElementById("order");
// evaluate --labels --by: a list per column; a row passes when it is in the chosen group of each.
const groupLists = [...document.querySelectorAll("select.group-filter")];
const inGroups = row => groupLists.every(
  list => !list.value || (row.groups !== null && row.groups[list.dataset.column] === list.value));

function applyFilters() {
  const wanted = new Set(categoryBoxes.filter(box => box.checked).map(box => box.value));
  const limit = Number(slider.value) / 100 + 1e-9;
  const rows = DATA.rows.filter(row => wanted.has(row.category) && inGroups(row)
                                      && (row.confidence === null || row.confidence <= limit));
  rows.sort(ORDERS[order.value]);
  document.getElementById("max-confidence-value").textContent = Number(slider.value).toFixed(1) + "%";
  document.getElementById("shown-count").textContent = rows.length;
  showRows(rows);
}

for (const control of [...categoryBoxes, slider, order, ...groupLists]) {
  control.addEventListener("input", applyFilters);
}
// A click on a group's row in a plot chooses that group in its column's list.
for (const plotRow of document.querySelectorAll(".group-row")) {
  plotRow.addEventListener("click", () => {
    const list = groupLists.find(candidate => candidate.dataset.column === plotRow.dataset.column);
    list.value = plotRow.dataset.group;
    applyFilters();
  });
}
applyFilters();
const misclassified = document.getElementById("misclassified");
if (misclassified) lazyGrid(misclassified)(DATA.misclassified);
document.body.dataset.ready = "true";
"""


def script_json(data: Any) -> str:
    """JSON that is safe inside a <script> element: no '<', '>' or '&' can close it or open a comment.

    Values are printable() (as the page's HTML is), so a name's bytes that are not UTF-8 read `\\xff` in
    both; ASCII-only.
    """
    text = json.dumps(printable_data(data), separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def render_page(title: str, summary_html: str, controls_html: str, evaluation_html: str, data: Any) -> str:
    """The whole report; every argument but `title` and `data` must already be escaped HTML."""
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{CONTENT_SECURITY_POLICY}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title>
<style>{STYLE}</style>
</head>
<body>
<header>
<h1>{html.escape(title)}</h1>
{summary_html}
{controls_html}
</header>
{evaluation_html}
<section>
<h2>Photos</h2>
<div id="cards" class="grid"></div>
</section>
<script type="application/json" id="report-data">{script_json(data)}</script>
<script>{SCRIPT}</script>
</body>
</html>
"""
