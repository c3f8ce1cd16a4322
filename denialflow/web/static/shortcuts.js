// Keyboard shortcuts of the claim page, from a static file (no inline script, strict CSP).
//
//   n  Next item: submits the form marked data-shortcut="next" (POST /queue/next)
//   s  Start work: clicks the first element marked data-shortcut="start" (the top item's)
//   c  Log call: goes to the first field marked data-shortcut="call" (the top item's form)
//   ?  Shows the help overlay (#shortcut-help); Esc closes it
//
// Keys are ignored while typing in a field, and with Ctrl, Alt or Cmd held. The elements
// are looked up at each key press, so the shortcuts keep working after htmx swaps the
// claim body.
(function () {
  "use strict";

  let returnFocus = null;

  function typing(target) {
    if (!(target instanceof Element)) return false;
    if (target.closest("[contenteditable]:not([contenteditable=false])")) return true;
    return target.closest("input, textarea, select") !== null;
  }

  function help() {
    return document.getElementById("shortcut-help");
  }

  function say(text) {
    const status = document.getElementById("shortcut-status");
    if (status) status.textContent = text;
  }

  function first(name) {
    return document.querySelector('[data-shortcut="' + name + '"]');
  }

  function openHelp() {
    const overlay = help();
    if (!overlay) return false;
    returnFocus = document.activeElement;
    overlay.hidden = false;
    const close = overlay.querySelector("[data-shortcut-close]");
    if (close) close.focus();
    return true;
  }

  function closeHelp() {
    const overlay = help();
    if (!overlay || overlay.hidden) return false;
    overlay.hidden = true;
    if (returnFocus && typeof returnFocus.focus === "function") returnFocus.focus();
    returnFocus = null;
    return true;
  }

  function nextItem() {
    const button = first("next");
    if (!button) return false;
    const form = button.closest("form");
    say("Opening the next item…");
    if (form && typeof form.requestSubmit === "function") form.requestSubmit(button);
    else button.click();
    return true;
  }

  function startWork() {
    const button = first("start");
    if (!button) {
      say("Nothing to start here: no open item offers Start work to you.");
      return true;
    }
    button.click();
    return true;
  }

  function logCall() {
    const field = first("call");
    if (!field) {
      say("No payer call to log here: no open item offers it to you.");
      return true;
    }
    const details = field.closest("details");
    if (details) details.open = true;
    field.scrollIntoView({ block: "center" });
    field.focus();
    return true;
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
    const overlay = help();
    if (overlay && !overlay.hidden) {
      if (event.key === "Escape") {
        closeHelp();
        event.preventDefault();
      }
      return;
    }
    if (typing(event.target)) return;
    let done = false;
    if (event.key === "?") done = openHelp();
    else if (event.key === "n") done = nextItem();
    else if (event.key === "s") done = startWork();
    else if (event.key === "c") done = logCall();
    if (done) event.preventDefault();
  });

  document.addEventListener("click", function (event) {
    const target = event.target instanceof Element ? event.target : null;
    if (!target) return;
    if (target.closest("[data-shortcut-open]")) openHelp();
    else if (target.closest("[data-shortcut-close]") || target === help()) closeHelp();
  });
})();
