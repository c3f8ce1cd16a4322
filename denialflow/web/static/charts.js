// The report pages' charts. A static file (the CSP runs no inline script): every
// <canvas data-chart="ID"> is drawn with Chart.js (static/chart.umd.min.js, loaded
// first) from the JSON in <script type="application/json" id="ID">, which the page
// embeds (partials/report_macros.html, `chart`):
//
//   {"type": "line" | "bar",
//    "labels": ["2025-01", ...],
//    "datasets": [{"label": "Items closed", "data": [3, 5, ...]}, ...],
//    "options": {...},          optional, merged over the defaults below
//    "reference": 95,           optional: a dashed horizontal line (a target)
//    "reference_label": "...",  optional: its label (default "target <value>")
//    "unit": "percent" | "dollars" | "hours" | "count",  optional: axis and tooltips
//    "stacked": true,           optional, bar charts: stack the datasets
//    "links": ["/reports/...", ...]}  optional, one per label: a click on that bar or
//                                      point opens it, as the table's number would
//
// Charts are drawn on load and again after every htmx swap (a filter change); a chart
// already on a canvas is destroyed first, and charts whose canvas left the page are
// destroyed too. The numbers are always in the table beside the chart as well.
//
// htmx removes every <script> element from the HTML it swaps in (allowScriptTags is off
// in base.html), JSON ones included. So before a swap this file reads the JSON elements
// out of the answer itself (parsed inert with DOMParser: nothing in it runs or loads),
// and a drawn canvas keeps its JSON in its data-chart-spec attribute, which survives in
// htmx's history snapshots (the Back button).
(function () {
  "use strict";

  // Distinguishable, colour-blind-safe (Okabe-Ito) colours, in order.
  var PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"];
  var drawn = new WeakMap(); // canvas -> the JSON text it was drawn from
  var answered = {}; // id -> JSON text, from the latest htmx answer

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function merge(base, extra) {
    var out = {};
    Object.keys(base).forEach(function (key) { out[key] = base[key]; });
    Object.keys(extra || {}).forEach(function (key) {
      out[key] = isObject(out[key]) && isObject(extra[key]) ? merge(out[key], extra[key]) : extra[key];
    });
    return out;
  }

  function format(unit, value) {
    if (typeof value !== "number") return String(value);
    if (unit === "percent") return value.toLocaleString(undefined, { maximumFractionDigits: 1 }) + "%";
    if (unit === "dollars") {
      return "$" + value.toLocaleString(undefined, { minimumFractionDigits: 0, maximumFractionDigits: 2 });
    }
    if (unit === "hours") return value.toLocaleString(undefined, { maximumFractionDigits: 1 }) + " h";
    return value.toLocaleString();
  }

  // A dashed horizontal line at options.plugins.dfReference.value (a target).
  var referenceLine = {
    id: "dfReference",
    afterDatasetsDraw: function (chart, _args, opts) {
      if (!opts || typeof opts.value !== "number" || !chart.scales.y) return;
      var y = chart.scales.y.getPixelForValue(opts.value);
      var area = chart.chartArea;
      if (!(y >= area.top && y <= area.bottom)) return;
      var ctx = chart.ctx;
      ctx.save();
      ctx.strokeStyle = opts.color || "#b3261e";
      ctx.fillStyle = opts.color || "#b3261e";
      ctx.lineWidth = 1.5;
      ctx.setLineDash([6, 4]);
      ctx.beginPath();
      ctx.moveTo(area.left, y);
      ctx.lineTo(area.right, y);
      ctx.stroke();
      if (opts.label) {
        ctx.setLineDash([]);
        ctx.font = "12px system-ui, sans-serif";
        ctx.textAlign = "right";
        ctx.textBaseline = "bottom";
        ctx.fillText(opts.label, area.right - 4, y - 3);
      }
      ctx.restore();
    },
  };

  function safeLink(href) {
    // Only this site's own pages: a path, never another origin or a javascript: URL.
    return typeof href === "string" && href.charAt(0) === "/" && href.charAt(1) !== "/" && href.charAt(1) !== "\\";
  }

  function config(spec) {
    var unit = spec.unit || "count";
    var stacked = spec.type === "bar" && spec.datasets.length > 1 && spec.stacked === true;
    var datasets = spec.datasets.map(function (set, i) {
      var colour = PALETTE[i % PALETTE.length];
      return merge(
        { backgroundColor: colour, borderColor: colour, borderWidth: spec.type === "line" ? 2 : 0, tension: 0, pointRadius: 2 },
        set
      );
    });
    var options = {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "nearest", intersect: spec.type === "bar" },
      plugins: {
        legend: { display: datasets.length > 1, position: "bottom" },
        tooltip: {
          callbacks: {
            label: function (item) {
              var name = item.dataset.label ? item.dataset.label + ": " : "";
              return name + format(unit, item.parsed.y);
            },
          },
        },
      },
      scales: {
        x: { stacked: stacked },
        y: { stacked: stacked, beginAtZero: true, ticks: { callback: function (v) { return format(unit, v); } } },
      },
    };
    if (unit === "percent") options.scales.y.suggestedMax = 100;
    if (unit === "count") options.scales.y.ticks.precision = 0;
    if (typeof spec.reference === "number") {
      options.plugins.dfReference = {
        value: spec.reference,
        label: spec.reference_label || "target " + format(unit, spec.reference),
      };
      // Keep the line on the chart even when every bar is far below or above it.
      options.scales.y.suggestedMax = Math.max(options.scales.y.suggestedMax || 0, spec.reference);
      if (spec.reference < 0) options.scales.y.suggestedMin = spec.reference;
    }
    var links = Array.isArray(spec.links) && spec.links.length === spec.labels.length ? spec.links : null;
    if (links) {
      options.onClick = function (event, elements) {
        if (!elements.length) return;
        var href = links[elements[0].index];
        if (safeLink(href)) window.location.assign(href);
      };
      options.onHover = function (event, elements) {
        var target = event.native && event.native.target;
        if (target) target.style.cursor = elements.length && safeLink(links[elements[0].index]) ? "pointer" : "";
      };
    }
    return {
      type: spec.type,
      data: { labels: spec.labels, datasets: datasets },
      options: merge(options, spec.options || {}),
      plugins: [referenceLine],
    };
  }

  function specText(canvas) {
    var id = canvas.getAttribute("data-chart");
    var source = document.getElementById(id);
    if (source) return source.textContent;
    // A canvas drawn before (restored from htmx's history) carries its own data; a new
    // one from an htmx answer finds it in that answer.
    if (canvas.hasAttribute("data-chart-spec")) return canvas.getAttribute("data-chart-spec");
    return Object.prototype.hasOwnProperty.call(answered, id) ? answered[id] : null;
  }

  function draw(canvas) {
    var text = specText(canvas);
    if (text === null) return;
    var old = window.Chart.getChart(canvas);
    if (old && drawn.get(canvas) === text) return;
    if (old) old.destroy();
    var spec;
    try {
      spec = JSON.parse(text);
    } catch (err) {
      console.warn("charts.js: the data of chart " + canvas.getAttribute("data-chart") + " is not JSON");
      return;
    }
    if (!spec || (spec.type !== "line" && spec.type !== "bar") || !Array.isArray(spec.datasets)) return;
    new window.Chart(canvas, config(spec));
    drawn.set(canvas, text);
    canvas.setAttribute("data-chart-spec", text);
  }

  function drawAll() {
    if (!window.Chart) return;
    // Charts whose canvas an htmx swap took off the page: free them.
    Object.values(window.Chart.instances || {}).forEach(function (chart) {
      if (!document.contains(chart.canvas)) chart.destroy();
    });
    document.querySelectorAll("canvas[data-chart]").forEach(draw);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
  document.addEventListener("htmx:beforeSwap", function (event) {
    answered = {};
    var html = event.detail && event.detail.serverResponse;
    if (typeof html !== "string" || html.indexOf("application/json") < 0) return;
    var parsed = new DOMParser().parseFromString(html, "text/html");
    parsed.querySelectorAll('script[type="application/json"][id]').forEach(function (script) {
      answered[script.id] = script.textContent;
    });
  });
  // htmx keeps a copy of the page's HTML for the Back button. The sizes Chart.js put on
  // each canvas are a style attribute there, which the CSP (style-src 'self') refuses
  // when the copy is put back: leave them out of the copy, and set them again (through
  // the CSSOM, which the policy allows) once it is taken.
  document.addEventListener("htmx:beforeHistorySave", function () {
    document.querySelectorAll("canvas[data-chart][style]").forEach(function (canvas) {
      var css = canvas.style.cssText;
      canvas.removeAttribute("style");
      setTimeout(function () { canvas.style.cssText = css; }, 0);
    });
  });
  document.addEventListener("htmx:afterSwap", drawAll);
  document.addEventListener("htmx:load", drawAll);
  document.addEventListener("htmx:historyRestore", drawAll);
})();
