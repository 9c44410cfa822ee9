/*
 * The TV: slide rotation, clock, celebrations, ticker, match centre. Live data comes through
 * live.js (window.MatchdayLive). No input needed; nothing inline (strict CSP).
 *
 * Celebrations: a won deal or a team milestone takes the whole screen for 7 s; at most one takeover
 * per 10 s, the rest go straight to the ticker; each celebration is shown once (by its key) even if
 * it is sent again. Rotation pauses while a takeover plays.
 */
(function () {
  "use strict";
  var body = document.body;
  var live = window.MatchdayLive;
  var slides = Array.prototype.slice.call(document.querySelectorAll(".slide"));
  var seconds = Math.max(5, Number(body.getAttribute("data-seconds")) || 12);
  var timeZone = body.getAttribute("data-timezone") || undefined;
  var TAKEOVER_MS = 7000;
  var GAP_MS = 10000;
  var current = 0;
  var paused = false;
  var lastTakeover = -Infinity;
  var seen = {};
  var centreVersion = -1;

  /* -------------------------------------------------------------------------- fit */
  // The layout scales with the screen (the --u unit in tv.css). When a slide's table still does not
  // fit (long names, many columns, a portrait panel), its --fit is lowered in 5 % steps, never below
  // MIN_FIT (rows stay >= 52 px at 1080p). A title that does not fit at TITLE_MIN is shortened by a
  // rule: the part before " — ", " – ", " - ", ": " or ", " (the whole title stays in its tooltip).
  var MIN_FIT = 0.66;
  var TITLE_MIN = 0.7;
  function cut(el) { return el.scrollWidth > el.clientWidth + 1; }
  function overflowing(slide) {
    if (slide.scrollHeight > slide.clientHeight + 1 || slide.scrollWidth > slide.clientWidth + 1) { return true; }
    var texts = slide.querySelectorAll(".board__table td.name, .board__scroll");
    for (var i = 0; i < texts.length; i++) { if (cut(texts[i])) { return true; } }
    return false;
  }
  function fitSlide(slide) {
    var f = 1;
    slide.style.setProperty("--fit", "1");
    while (f > MIN_FIT && overflowing(slide)) {
      f = Math.max(MIN_FIT, f - 0.05);
      slide.style.setProperty("--fit", f.toFixed(2));
    }
  }
  function fitTitle(el) {
    // shrink (--title-fit) down to TITLE_MIN, then shorten by the rule; the full title in the tooltip
    if (!el) { return; }
    var full = el.getAttribute("data-full-title") || el.textContent;
    el.setAttribute("data-full-title", full);
    el.textContent = full;
    var f = 1;
    el.style.setProperty("--title-fit", "1");
    while (f > TITLE_MIN && cut(el)) {
      f = Math.max(TITLE_MIN, f - 0.05);
      el.style.setProperty("--title-fit", f.toFixed(2));
    }
    if (cut(el)) {
      var short = full.split(/ [—–-] |: |, /)[0];
      if (short && short !== full) { el.textContent = short; el.title = full; }
    }
  }
  function fit() {
    fitTicker();
    fitTitle(document.querySelector(".tv-top__title"));
    slides.forEach(function (slide) {
      if (!slide.classList.contains("is-active")) { return; }
      fitSlide(slide);
      slide.querySelectorAll(".board__title").forEach(fitTitle);
    });
  }
  window.MatchdayTV = { fit: fit };
  window.addEventListener("resize", fit);
  if (document.fonts && document.fonts.ready) { document.fonts.ready.then(fit); }

  /* --------------------------------------------------------------------- rotation */
  function show(index) {
    slides.forEach(function (slide, i) { slide.classList.toggle("is-active", i === index); });
    current = index;
    fit();
  }
  fit();
  var cycles = 0;
  setInterval(function () {
    if (paused || slides.length < 2) { return; }
    var next = (current + 1) % slides.length;
    if (next === 0) {  // shift the layout a little each cycle (always-on panels burn in)
      cycles += 1;
      body.classList.toggle("tv--shift", cycles % 2 === 1);
    }
    show(next);
  }, seconds * 1000);

  /* ------------------------------------------------------------------------ clock */
  var clock = document.querySelector("[data-clock]");
  var lang = document.documentElement.lang === "nb" ? "nb-NO" : "en-GB"; /* the org's language */
  var format;
  try {
    format = new Intl.DateTimeFormat(lang, { timeZone: timeZone, weekday: "short", hour: "2-digit", minute: "2-digit" });
  } catch (e) {
    format = new Intl.DateTimeFormat(lang, { weekday: "short", hour: "2-digit", minute: "2-digit" });
  }
  function tick() { if (clock) { clock.textContent = format.format(new Date()); } }
  tick();
  setInterval(tick, 1000);

  /* ----------------------------------------------------------------------- ticker */
  // It starts with the latest stored events (sent by the server on connect). A line is shown whole or
  // not at all: the newest lines that fit whole are shown, the older ones wait hidden; a newest line
  // wider than the whole strip scrolls to its end and back (a marquee) instead of being cut.
  var ticker = document.querySelector("[data-ticker]");
  var tickerSeen = {};
  function fitTicker() {
    if (!ticker) { return; }
    var box = ticker.getBoundingClientRect();
    var full = false;
    Array.prototype.forEach.call(ticker.children, function (li, i) {
      li.hidden = false;
      li.classList.remove("is-marquee");
      if (full) { li.hidden = true; return; }
      var r = li.getBoundingClientRect();
      if (r.right <= box.right + 1) { return; }
      if (i === 0) {
        var shift = li.scrollWidth - box.width;
        li.style.setProperty("--marquee", (-shift).toFixed(0) + "px");
        li.style.setProperty("--marquee-s", Math.max(6, shift / 60).toFixed(1) + "s");  // ~60 px/s
        li.classList.add("is-marquee");
        full = true;
        return;
      }
      li.hidden = true;
      full = true;
    });
  }
  function addTicker(text, at, kind) {
    if (!ticker) { return; }
    var key = text + "|" + (at || "");
    if (tickerSeen[key]) { return; }
    tickerSeen[key] = true;
    var li = document.createElement("li");
    li.className = "tv-ticker__item" + (kind ? " tv-ticker__item--" + kind : "");
    var time = document.createElement("span");
    time.className = "tv-ticker__time";
    var when = at ? new Date(at) : new Date();
    try {
      time.textContent = when.toLocaleTimeString(lang, { timeZone: timeZone, hour: "2-digit", minute: "2-digit" });
    } catch (e) {
      time.textContent = when.toLocaleTimeString(lang, { hour: "2-digit", minute: "2-digit" });
    }
    li.appendChild(time);
    li.appendChild(document.createTextNode(" " + text));
    ticker.insertBefore(li, ticker.firstChild);
    while (ticker.children.length > 12) { ticker.removeChild(ticker.lastChild); }
    fitTicker();
  }

  /* ---------------------------------------------------------------- celebrations */
  var overlay = document.querySelector("[data-overlay]");
  function field(name, text) {
    var el = overlay.querySelector("[data-overlay-" + name + "]");
    el.textContent = text || "";
    el.hidden = !text;
  }
  function text(key, fallback) {  // the page's words (tv.html: data-text-*, in the org's language)
    return document.body.getAttribute("data-text-" + key.replace(/[A-Z]/g, function (m) { return "-" + m.toLowerCase(); })) || fallback;
  }
  function describe(c) {
    if (c.kind === "milestone") { return c.title + " · " + (c.detail || ""); }
    return text("won", "WON") + " — " + (c.rep || c.team || "") + (c.account ? " · " + c.account : "") + " · " + c.amount_display;
  }
  function celebrate(c) {
    if (!c || !c.key || seen[c.key]) { return; }
    seen[c.key] = true;
    addTicker(describe(c), c.at, c.kind === "milestone" ? "milestone" : "won");
    var now = Date.now();
    if (!overlay || now - lastTakeover < GAP_MS) { return; }  // queued into the ticker only
    lastTakeover = now;
    overlay.classList.toggle("overlay--milestone", c.kind === "milestone");
    if (c.kind === "milestone") {
      field("kicker", text("targetHit", "Target hit"));
      field("name", c.team);
      field("team", c.detail);
      field("amount", "");
      field("account", c.title);
    } else {
      field("kicker", text("dealWon", "Deal won"));
      field("name", c.rep || c.team);
      field("team", c.rep ? c.team : "");
      field("amount", c.amount_display);
      field("account", c.account);
    }
    overlay.setAttribute("data-key", c.key);
    overlay.hidden = false;
    overlay.classList.remove("is-leaving");
    paused = true;
    setTimeout(function () {
      overlay.classList.add("is-leaving");
      setTimeout(function () { overlay.hidden = true; paused = false; }, 500);
    }, TAKEOVER_MS);
  }

  /* --------------------------------------------------------------- live events */
  if (!live) { return; }
  live.on("celebration", celebrate);
  live.on("board", function () { window.requestAnimationFrame(fit); });  // after live.js swapped it
  live.on("ticker", function (item) { addTicker(item.text, item.at, item.kind || "info"); });
  live.on("match_centre", function (centre) {
    if (centre.version < centreVersion) { return; }
    centreVersion = centre.version;
    var slot = document.querySelector("[data-centre-slot]");
    if (slot) {
      live.put(slot, centre.html);  // through htmx.swap(), as live.js swaps boards
      window.requestAnimationFrame(fit);
    }
  });
  live.on("revoked", function () {
    var screen = document.querySelector("[data-revoked]");
    if (screen) { screen.hidden = false; }
    paused = true;
  });
  live.on("reload", function () { window.location.reload(); });
})();
