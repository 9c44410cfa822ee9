"""The player card and the coaching drilldown at 1280, 1440 and 390 px in Debian's Chromium: no text
box sticks out of the page or its section, is cut, or lies on another text (chart labels included);
the match log needs no sideways scroll on a laptop; on a rep's own card "Call next" comes first; the
drilldown uses the page's width. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest
from browser_pages import login, wait_for_charts
from demo_org_app import ADMIN, seeded_org

pytestmark = pytest.mark.browser

WIDTHS = (1280, 1440, 390)

#: Runs in the page: what a reader would see as broken. Text boxes are the rectangles of text nodes
#: (HTML and SVG); two of them overlapping, or one outside the page or its section, is a problem.
PROBLEMS = r"""
(charts = true) => {
  const W = document.documentElement.clientWidth;
  const problems = [];
  const over = document.documentElement.scrollWidth - W;
  if (over > 1) problems.push("page scrolls sideways by " + over + " px");
  const shown = (el) => {
    for (let e = el; e && e.nodeType === 1; e = e.parentElement) {
      const st = getComputedStyle(e);
      if (st.display === "none" || st.visibility === "hidden") return false;
      if (e.tagName === "DETAILS" && !e.open && el !== e && !el.closest("summary")) return false;
    }
    return true;
  };
  const boxes = [];
  const main = document.querySelector("main") || document.body;
  const walker = document.createTreeWalker(main, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.trim()) continue;
    const el = n.parentElement;
    if (!el || !shown(el) || el.closest(".visually-hidden, script, style, option, datalist, textarea")) continue;
    if (charts === false && el.closest("svg")) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    // a table that scrolls sideways in its box shows only what is inside the box
    const wrap = el.closest(".table-wrap");
    const clip = wrap ? wrap.getBoundingClientRect() : null;
    for (let r of range.getClientRects()) {
      if (clip) {
        const left = Math.max(r.left, clip.left), right = Math.min(r.right, clip.right);
        const top = Math.max(r.top, clip.top), bottom = Math.min(r.bottom, clip.bottom);
        r = {left, right, top, bottom, width: right - left, height: bottom - top};
      }
      if (r.width < 1 || r.height < 1) continue;
      boxes.push({el, r, text: n.textContent.trim().slice(0, 40)});
    }
  }
  const name = (b) => {
    const chart = b.el.closest("[data-spec-url]");
    return (chart ? "chart " + chart.getAttribute("data-spec-url").replace(/\?.*/, "").split("/").pop() + " " : "") + "«" + b.text + "»";
  };
  const scrollBox = (el) => el.closest(".table-wrap");
  for (const b of boxes) {
    const wrap = scrollBox(b.el);
    if (!wrap && (b.r.right > W + 1 || b.r.left < -1)) problems.push("off the page: " + name(b));
    const section = b.el.closest(".section");
    if (section && !wrap) {
      const s = section.getBoundingClientRect();
      if (b.r.right > s.right + 1 || b.r.left < s.left - 1) problems.push("out of its section: " + name(b));
    }
    if (b.el.closest("svg") && b.text.endsWith("…")) problems.push("cut label: " + name(b));
    const st = getComputedStyle(b.el);
    if (st.textOverflow === "ellipsis" && b.el.scrollWidth > b.el.clientWidth + 1) problems.push("cut: " + name(b));
  }
  boxes.sort((a, b) => a.r.top - b.r.top);
  for (let i = 0; i < boxes.length; i++) {
    const a = boxes[i];
    for (let j = i + 1; j < boxes.length && boxes[j].r.top < a.r.bottom - 2; j++) {
      const b = boxes[j];
      if (a.el === b.el || a.el.contains(b.el) || b.el.contains(a.el)) continue;
      const x = Math.min(a.r.right, b.r.right) - Math.max(a.r.left, b.r.left);
      const y = Math.min(a.r.bottom, b.r.bottom) - Math.max(a.r.top, b.r.top);
      if (x > 2 && y > 2) problems.push("overlap: " + name(a) + " on " + name(b));
    }
  }
  return problems;
}
"""


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "card_layout")


def _pages(page, url, width):
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(url)
    states = wait_for_charts(page)
    assert all(s == "ready" for s in states), states


@pytest.mark.parametrize("width", WIDTHS)
def test_a_reps_own_card_fits_and_starts_with_call_next(org, serve, page, screenshot, width):
    server = serve(org.app)
    login(page, server.url, org.by_role("rep")[0][0])
    _pages(page, server.url + "/me", width)
    screenshot(page, f"layout-card-{width}")
    problems = page.evaluate(PROBLEMS)
    assert problems == [], "\n".join(problems)
    # the SQL list is the first thing a rep sees: the first section after the header
    first = page.locator(".player-card > .section, .player-card .card-grid > .section").first
    assert first.get_attribute("aria-labelledby") == "h-sqls"
    top = page.locator("#h-sqls").bounding_box()["y"]
    # on the first screen of a laptop; on a phone right under the player's header (it was 3,300 px
    # down on a laptop and 7,000 px on a phone)
    hero = page.locator(".player-hero").bounding_box()
    assert top < 900 if width >= 1280 else top < hero["y"] + hero["height"] + 120, top
    if width >= 1280:  # the match log shows every column: no sideways scroll in its box
        assert (
            page.evaluate(
                "(() => { const w = document.querySelector('.match-log').closest('.table-wrap');"
                " return w.scrollWidth - w.clientWidth; })()"
            )
            <= 1
        )
    assert page.errors == []


@pytest.mark.parametrize("width", WIDTHS)
def test_the_drilldown_fits_and_uses_the_page_width(org, serve, page, screenshot, width):
    server = serve(org.app)
    login(page, server.url, ADMIN)
    rep = org.rep(org.by_role("rep")[0][0])
    _pages(page, f"{server.url}/coach/{rep.id}", width)
    screenshot(page, f"layout-coach-{width}")
    problems = page.evaluate(PROBLEMS)  # the page's text and its charts' labels
    assert problems == [], "\n".join(problems)
    # no empty column: every row of the grid is filled across the page's content width
    gaps = page.evaluate(
        r"""() => {
          const grid = document.querySelector('.coach-grid').getBoundingClientRect();
          const main = document.querySelector('.coach').getBoundingClientRect();
          const out = [main.width - grid.width];
          const rows = {};
          document.querySelectorAll('.coach-grid > .section').forEach(s => {
            const r = s.getBoundingClientRect();
            const k = Math.round(r.top);
            rows[k] = Math.max(rows[k] || 0, r.right);
          });
          for (const right of Object.values(rows)) out.push(grid.right - right);
          return out;
        }"""
    )
    assert max(gaps) <= 2, gaps
    assert page.errors == []
