/* The competition form posts with htmx; a 400 answer carries the form again with each bad field
 * named, so swap it in (htmx does not swap error responses by default). */
document.addEventListener("htmx:beforeSwap", function (e) {
  if (e.detail.xhr.status === 400 && e.detail.target && e.detail.target.id === "competition-form") {
    e.detail.shouldSwap = true;
    e.detail.isError = false;
  }
});
