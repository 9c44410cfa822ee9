// 1:1 form: at most N focus metrics can be ticked (N from data-max-focus); the others are
// disabled until one is unticked, so the form is never refused for too many. Runs again on every
// htmx swap (the form comes back in the fragment after saving or after a refused save).
(function () {
  "use strict";
  function limit(fieldset) {
    if (fieldset.hasAttribute("data-limited")) { return; }
    fieldset.setAttribute("data-limited", "");
    var max = parseInt(fieldset.getAttribute("data-max-focus"), 10) || 2;
    var boxes = fieldset.querySelectorAll("input[type=checkbox]");
    function update() {
      var ticked = 0;
      boxes.forEach(function (b) { if (b.checked) ticked += 1; });
      boxes.forEach(function (b) { b.disabled = !b.checked && ticked >= max; });
    }
    boxes.forEach(function (b) { b.addEventListener("change", update); });
    update();
  }
  function init(root) {
    root = root && root.querySelectorAll ? root : document;
    if (root.matches && root.matches("fieldset[data-max-focus]")) { limit(root); }
    root.querySelectorAll("fieldset[data-max-focus]").forEach(limit);
  }
  if (window.htmx && typeof window.htmx.onLoad === "function") {
    window.htmx.onLoad(init);  // the page (on load) and every swapped fragment
  } else if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
