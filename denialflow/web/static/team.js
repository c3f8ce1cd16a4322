// The team and escalations pages: check every item of the page, clear the checks, and
// say in the reassign bar how many items are checked. A static file (no inline script or
// handlers: strict CSP); without it the checkboxes and the form work all the same.
(function () {
  "use strict";

  function form() {
    return document.getElementById("team-work");
  }

  function boxes() {
    const f = form();
    return f ? Array.from(f.querySelectorAll('input[name="item"]')) : [];
  }

  function count() {
    const f = form();
    if (!f) return;
    const all = boxes();
    const checked = all.filter(function (b) { return b.checked; }).length;
    const label = f.querySelector("[data-picked-count]");
    if (label) {
      label.textContent = checked
        ? checked + " checked" + (checked === 1 ? " item" : " items")
        : "check items in the list below";
    }
    const every = f.querySelector('[data-check="all"]');
    if (every) {
      every.checked = all.length > 0 && checked === all.length;
      every.indeterminate = checked > 0 && checked < all.length;
    }
  }

  document.addEventListener("change", function (event) {
    const target = event.target;
    if (!(target instanceof HTMLInputElement) || !form() || !form().contains(target)) return;
    if (target.matches('[data-check="all"]')) {
      for (const box of boxes()) box.checked = target.checked;
    }
    if (target.matches('[data-check="all"], input[name="item"]')) count();
  });

  document.addEventListener("click", function (event) {
    const target = event.target instanceof Element ? event.target.closest('[data-check="none"]') : null;
    if (!target) return;
    for (const box of boxes()) box.checked = false;
    count();
  });

  // A new page of items, or the table after a reassign, comes with its own checks.
  document.addEventListener("htmx:afterSettle", count);
  document.addEventListener("DOMContentLoaded", count);
})();
