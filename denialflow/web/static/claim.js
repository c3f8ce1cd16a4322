// The claim page's error line: when the server refuses an htmx request with a status the
// page does not show in place (a 403, a 500), say so on the line marked data-error-line.
// A static file, so the page needs no inline script or handler (strict CSP).
(function () {
  "use strict";
  document.addEventListener("htmx:responseError", function (event) {
    const line = document.querySelector("[data-error-line]");
    if (!line) return;
    const status = event.detail && event.detail.xhr ? event.detail.xhr.status : "no answer";
    line.textContent =
      "The server refused that (" + status + "). Nothing was changed: reload the page and try again.";
  });
})();
