// The paper EOB form: "Post" is offered only for what was last checked. Once a field
// changes, the button is greyed out until "Check balance" is pressed again (the server
// balances again on "Post" in any case; this only keeps the page honest).
// A static file, so the page needs no inline script or handler (strict CSP).
(function () {
  "use strict";
  function stale(event) {
    const form = event.target.closest && event.target.closest("form.eob-form");
    if (!form) return;
    const post = form.querySelector("#eob-post");
    if (!post || post.disabled) return;
    post.disabled = true;
    const note = document.getElementById("eob-stale");
    if (note) note.hidden = false;
  }
  document.addEventListener("input", stale);
  document.addEventListener("change", stale);
})();
