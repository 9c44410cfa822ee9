// 1:1 form: at most N focus metrics can be ticked (N from data-max-focus); the others are
// disabled until one is unticked, so the form is never refused for too many.
(function () {
  "use strict";
  function limit(fieldset) {
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
  function init() {
    document.querySelectorAll("fieldset[data-max-focus]").forEach(limit);
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
