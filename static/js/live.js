/*
 * Matchday live glue, shared by the TV (/tv/<token>) and the desk leaderboards (/boards).
 *
 * Configuration comes from data- attributes on the element marked [data-live]: data-token (a TV's
 * display token) or data-boards / data-cards (comma-separated board or rep ids, for a logged-in
 * page; a card page refreshes its htmx fragments on "card-changed"). No inline
 * scripts: the pages run under a strict Content-Security-Policy.
 *
 * Protocol (DESIGN.md "Live protocol"): Socket.IO namespace /live, WebSocket transport only. On every
 * (re)connect the auth is sent again and the server answers with the full state of every board, so
 * nothing is lost while the link was down. Each `board` event carries a version (the data revision);
 * a version older than the last one seen for that board is ignored. The rendered fragment in
 * `state.html` replaces the board in place through htmx.swap() (so hx-* attributes in pushed HTML
 * work and htmx.onLoad handlers run), and rows that moved slide to their new place.
 *
 * Other scripts listen with window.MatchdayLive.on(event, fn) for: board, celebration, match_centre,
 * ticker, revoked, reload, status.
 */
(function () {
  "use strict";
  var root = document.querySelector("[data-live]");
  if (!root || typeof window.io !== "function") { return; }

  var token = root.getAttribute("data-token");
  var boards = (root.getAttribute("data-boards") || "").split(",").filter(Boolean).map(Number);
  var cards = (root.getAttribute("data-cards") || "").split(",").filter(Boolean).map(Number);
  var versions = {};
  var listeners = {};
  var lastUpdate = Date.now();
  var revoked = false;

  document.querySelectorAll("[data-board-slot] > .board").forEach(function (el) {
    versions[el.getAttribute("data-board-id")] = Number(el.getAttribute("data-version"));
  });

  var live = window.MatchdayLive = {
    versions: versions,
    put: function (target, html) { put(target, html); },
    status: "connecting",
    on: function (event, fn) { (listeners[event] = listeners[event] || []).push(fn); },
    lastUpdate: function () { return lastUpdate; }
  };

  function fire(event, data) {
    (listeners[event] || []).forEach(function (fn) { fn(data); });
  }

  function setStatus(status) {
    live.status = status;
    document.documentElement.setAttribute("data-live-state", status);
    var text = { live: "live", reconnecting: "reconnecting…", revoked: "revoked", offline: "offline" }[status] || status;
    document.querySelectorAll("[data-live-status]").forEach(function (el) {
      el.textContent = text;
      el.classList.toggle("is-down", status !== "live");
    });
    fire("status", status);
  }

  function touch() { lastUpdate = Date.now(); renderFreshness(); }

  function renderFreshness() {
    var s = Math.max(0, Math.round((Date.now() - lastUpdate) / 1000));
    var text = s < 60 ? "updated " + s + " s ago" : "updated " + Math.floor(s / 60) + " min ago";
    document.querySelectorAll("[data-live-fresh]").forEach(function (el) {
      el.textContent = text;
      el.classList.toggle("is-stale", s >= 120);
    });
  }
  setInterval(renderFreshness, 1000);

  /* Put pushed HTML into `target` with htmx (processed like any htmx swap: hx-* attributes live,
   * htmx:load fired); synchronous (no swap or settle delay), so the FLIP below measures the new rows. */
  function put(target, html) {
    if (window.htmx && typeof window.htmx.swap === "function") {
      window.htmx.swap(target, html.trim(), { swapStyle: "innerHTML", swapDelay: 0, settleDelay: 0, ignoreTitle: true });
      return;
    }
    var template = document.createElement("template");  // htmx missing: a plain swap
    template.innerHTML = html.trim();
    target.replaceChildren(template.content);
  }

  /* Replace a board in place; rows that changed place slide there (FLIP), changed values flash. */
  function swap(slot, html) {
    var before = {};
    slot.querySelectorAll("tr[data-id]").forEach(function (tr) {
      var value = tr.querySelector(".value");
      before[tr.getAttribute("data-id")] = {
        top: tr.getBoundingClientRect().top,
        rank: tr.getAttribute("data-rank"),
        value: value ? value.textContent : null
      };
    });
    put(slot, html);
    slot.querySelectorAll("tr[data-id]").forEach(function (tr) {
      var was = before[tr.getAttribute("data-id")];
      if (!was) { tr.classList.add("is-entering"); return; }
      var dy = was.top - tr.getBoundingClientRect().top;
      if (dy && tr.animate) {
        tr.animate([{ transform: "translateY(" + dy + "px)" }, { transform: "none" }],
          { duration: 900, easing: "cubic-bezier(.2,.8,.2,1)" });
      }
      var rank = Number(tr.getAttribute("data-rank"));
      if (was.rank && rank && String(rank) !== was.rank) {
        tr.classList.add(rank < Number(was.rank) ? "is-up" : "is-down");
      }
      var value = tr.querySelector(".value");
      if (value && was.value !== null && value.textContent !== was.value) { tr.classList.add("is-changed"); }
    });
  }

  var socket = window.io("/live", {
    auth: token ? { token: token } : { boards: boards, cards: cards },
    transports: ["websocket"]
  });
  live.socket = socket;

  function markRevoked() {
    revoked = true;
    setStatus("revoked");
    socket.disconnect();
    fire("revoked", {});
  }

  socket.on("connect", function () { setStatus("live"); touch(); });
  socket.on("disconnect", function (reason) {
    if (revoked) { return; }
    setStatus("reconnecting");
    if (reason === "io server disconnect") {
      // The server dropped us without saying why: try again; a revoked token is then refused.
      setTimeout(function () { if (!revoked) { socket.connect(); } }, 1500);
    }
  });
  socket.on("connect_error", function (err) {
    var message = err && err.message;
    if (message === "display not found") { markRevoked(); return; }
    if (message === "login required") { setStatus("offline"); return; }
    setStatus("reconnecting");
    if (!socket.active) { setTimeout(function () { socket.connect(); }, 3000); }
  });
  socket.on("revoked", markRevoked);

  socket.on("board", function (state) {
    var id = String(state.board);
    if (versions[id] !== undefined && state.version < versions[id]) { return; }  // out of order
    versions[id] = state.version;
    touch();
    document.querySelectorAll('[data-board-slot="' + id + '"]').forEach(function (slot) { swap(slot, state.html); });
    fire("board", state);
  });
  // A rep's data changed: htmx fragments listening for "card-changed from:body" refresh themselves.
  socket.on("card", function (data) {
    touch();
    document.body.dispatchEvent(new CustomEvent("card-changed", { detail: data }));
    fire("card", data);
  });
  ["celebration", "match_centre", "ticker", "reload"].forEach(function (event) {
    socket.on(event, function (data) { if (event !== "ticker") { touch(); } fire(event, data); });
  });
})();
