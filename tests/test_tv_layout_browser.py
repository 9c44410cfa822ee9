"""The TV fits any screen: at six sizes, from 1280×720 to 4K and a portrait panel, every slide shows
its whole table with no text outside the screen, cut off or on top of other text.

The layout is one 1920×1080 design scaled by a TV unit (``--u`` in static/css/tv.css; portrait
screens use a 1080×1920 design), and ``static/js/tv.js`` shrinks a slide's table rows only when they
would not fit. Screenshots of every size and slide are saved to ``test-artifacts/``.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlmodel import Session, select

from scoreboard import db
from scoreboard.models import Board, Playlist, PlaylistBoard
from scoreboard.seed import seed_demo_org
from scoreboard.tokens import create_token

pytestmark = pytest.mark.browser

SIZES = [(1280, 720), (1366, 768), (1440, 900), (1920, 1080), (3840, 2160), (1080, 1920)]

#: Runs in the page: what a viewer would see as broken on the active slide and the frame around it.
CHECK = r"""
() => {
  const W = innerWidth, H = innerHeight;
  const portrait = H > W;
  const u = portrait ? Math.min(W / 1080, H / 1920) : Math.min(W / 1920, H / 1080);
  const visible = (el) => {
    const st = getComputedStyle(el);
    if (st.visibility === "hidden" || st.display === "none") return false;
    const r = el.getBoundingClientRect();
    return r.width > 0 && r.height > 0 && el.closest("[hidden]") === null && el.closest(".slide:not(.is-active)") === null;
  };
  const texts = [];
  const sel = ".tv-top__title, .tv-status, .tv-fresh, .tv-top__clock, .board__title, .board__meta, "
    + ".board__table th, .board__table td, .board__ties, .board__empty, .tv-ticker__label, .centre__label, .centre__big, "
    + ".centre__sub, .duel__label, .duel__value, .centre__teams th, .centre__teams td";
  document.querySelectorAll(sel).forEach((el) => {
    if (!visible(el) || el.closest(".visually-hidden")) return;
    if (!el.textContent.trim() && !el.querySelector(".form-chip")) return;
    texts.push(el);
  });
  const problems = [];
  const name = (el) => el.className + " «" + el.textContent.trim().slice(0, 30) + "»";
  for (const el of texts) {
    const r = el.getBoundingClientRect();
    if (r.right > W + 1 || r.bottom > H + 1 || r.left < -1 || r.top < -1) problems.push("off screen: " + name(el));
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).overflow !== "visible") problems.push("cut: " + name(el));
    if (el.matches(".centre__big, .duel__value, td.num, td.value, .tv-top__clock")) {
      const range = document.createRange();
      range.selectNodeContents(el);
      const tops = new Set(Array.from(range.getClientRects()).map((q) => Math.round(q.top)));
      if (tops.size > 1) problems.push("number broken over lines: " + name(el));
    }
  }
  for (let i = 0; i < texts.length; i++) {
    for (let j = i + 1; j < texts.length; j++) {
      const a = texts[i], b = texts[j];
      if (a.contains(b) || b.contains(a)) continue;
      const p = a.getBoundingClientRect(), q = b.getBoundingClientRect();
      const w = Math.min(p.right, q.right) - Math.max(p.left, q.left);
      const h = Math.min(p.bottom, q.bottom) - Math.max(p.top, q.top);
      if (w > 2 && h > 2) problems.push("overlap: " + name(a) + " / " + name(b));
    }
  }
  const ticker = document.querySelector(".tv-ticker").getBoundingClientRect();
  const rows = Array.from(document.querySelectorAll(".slide.is-active .board__row"));
  for (const row of rows) {
    const r = row.getBoundingClientRect();
    if (r.bottom > ticker.top + 1) problems.push("row under the ticker: " + row.dataset.rank);
  }
  const heights = rows.map((r) => r.getBoundingClientRect().height);
  return {problems, rows: rows.length, minRow: heights.length ? Math.min(...heights) / u : null,
          ticker: document.querySelectorAll(".tv-ticker__item").length};
}
"""


@pytest.fixture(scope="module")
def tv_url(tmp_path_factory: Any) -> Any:
    from demo_org_app import LiveServer, make_app  # the suite's real threaded server

    tmp = tmp_path_factory.mktemp("tv_layout")
    app = make_app(tmp, f"sqlite:///{tmp / 'matchday.db'}")
    seed_demo_org(app, seed=5, reps=12, quarters=1)
    engine = db.engine_for(app)
    with Session(engine) as s:
        playlist = s.exec(select(Playlist)).one()
        playlist.name = "Sales floor Oslo — Q4 league and the floor today"
        s.add(playlist)
        s.add(
            Board(
                title="Most calls this week, every rep on the floor",
                stat="activities",
                period="week",
                top_n=10,
            )
        )
        s.commit()
        board = s.exec(select(Board).where(Board.stat == "activities", Board.period == "week")).first()
        s.add(PlaylistBoard(playlist_id=playlist.id, board_id=board.id, position=99))
        s.commit()
        playlist_id = playlist.id
    secret = create_token(engine, "display", "Floor TV", playlist_id=playlist_id)[1]
    server = LiveServer(app)
    yield f"{server.url}/tv/{secret}"
    server.stop()


@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
def test_every_slide_fits_the_screen(
    tv_url: str, chromium: Any, size: tuple[int, int], screenshot: Any
) -> None:
    w, h = size
    # no motion: the check measures where things settle, not a frame of the slide-in animation
    context = chromium.new_context(viewport={"width": w, "height": h}, reduced_motion="reduce")
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    resp = page.goto(tv_url)
    assert resp.status == 200, resp.text()[:500]
    page.wait_for_selector(
        ".slide.is-active .board__row, .slide.is-active .board__empty, .slide.is-active .centre",
        state="attached",
    )
    page.wait_for_timeout(400)  # fonts, the fit pass
    slides = page.locator(".slide").count()
    assert slides >= 3
    report = {}
    for i in range(slides):
        page.evaluate(
            "(i) => document.querySelectorAll('.slide').forEach((s, k) => s.classList.toggle('is-active', k === i))",
            i,
        )
        page.evaluate("() => window.MatchdayTV && window.MatchdayTV.fit()")
        page.wait_for_timeout(700)  # the slide-in animation
        result = page.evaluate(CHECK)
        screenshot(page, f"tv-{w}x{h}-slide{i}")
        report[i] = result
        assert result["problems"] == [], (size, i, result["problems"][:8])
        if result["rows"]:
            assert result["minRow"] >= 52 or result["rows"] > 10, (size, i, result["minRow"])
    assert errors == []
    context.close()
