/*
 * Matchday charts: every element with data-spec-url gets the Vega-Lite spec (built server-side
 * with Altair) fetched and embedded with vega-embed, under the strict Content-Security-Policy:
 * ast: true (the expression interpreter, no eval), defaultStyle: false (our CSS has vega-embed's
 * rules), no actions, no tooltips, SVG output. No inline scripts anywhere.
 *
 * State is kept on the element for tests and styling: data-chart-state = loading | ready | error.
 * Runs on page load and on every htmx swap (htmx.onLoad), so fragments can carry charts too.
 */
(function () {
  "use strict";
  var OPTIONS = { ast: true, defaultStyle: false, actions: false, tooltip: false, renderer: "svg" };

  function fail(el, message) {
    el.setAttribute("data-chart-state", "error");
    var p = document.createElement("p");
    p.className = "chart__fallback";
    p.textContent = message;
    el.replaceChildren(p);
  }

  function embed(el) {
    if (el.getAttribute("data-chart-state")) { return; }
    el.setAttribute("data-chart-state", "loading");
    if (typeof window.vegaEmbed !== "function") { fail(el, "Charts could not load."); return; }
    fetch(el.getAttribute("data-spec-url"), { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (!r.ok) { throw new Error("HTTP " + r.status); }
        return r.json();
      })
      .then(function (spec) { return window.vegaEmbed(el, spec, OPTIONS); })
      .then(function (result) {
        el.setAttribute("data-chart-state", "ready");
        el._vegaView = result.view;
      })
      .catch(function (err) { fail(el, "This chart is not available (" + err.message + ")."); });
  }

  function scan(root) {
    (root || document).querySelectorAll("[data-spec-url]").forEach(embed);
  }

  function start() {
    scan(document);
    if (window.htmx && typeof window.htmx.onLoad === "function") {
      window.htmx.onLoad(function (el) { if (el && el.querySelectorAll) { scan(el); } });
    }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
