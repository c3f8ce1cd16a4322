// Behaviour every page may use, in a file rather than inline handlers (onfocus=...),
// which the Content-Security-Policy (script-src 'self') does not run.
"use strict";
// A field marked data-select-on-focus selects its whole value when focused: a one-time
// API token is copied in one go. Delegated, so fields swapped in by htmx work too.
document.addEventListener("focusin", function (event) {
  var field = event.target;
  if (field instanceof HTMLInputElement && field.hasAttribute("data-select-on-focus")) {
    field.select();
  }
});
