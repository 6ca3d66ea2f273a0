/* Botwarden dashboard: draws every [data-chart] from the #chart-data JSON island with
   uPlot, on load and after each htmx swap, and sets window.bwChartsDrawn (a
   performance.now() time) once every chart has painted — what the tests and
   bench/dashboard.py wait for. No inline scripts: the page's CSP forbids them. */
(function () {
  "use strict";
  var COLORS = {
    automated: "#c92a2a", likely_automated: "#f08c00", likely_human: "#2f9e44",
    verified_bot: "#1971c2", not_computed: "#868e96"
  };
  var HIST = "#5f3dc4";
  var charts = [];

  function fmtInt(n) { return n == null ? "—" : Math.round(n).toLocaleString("en-US"); }
  function widthOf(el) { return Math.max(280, Math.floor(el.getBoundingClientRect().width)); }

  function destroyAll() {
    charts.forEach(function (c) { c.destroy(); });
    charts = [];
  }

  function timeseriesOpts(el, d, onDraw) {
    // Stacked: series k shows the sum of groupings 0..k; drawn widest first so each
    // fill leaves its own band visible. The legend shows each grouping's own count.
    var n = d.x.length, acc = new Array(n).fill(0), cum = [];
    d.series.forEach(function (s) {
      acc = acc.map(function (v, j) { return v + s.values[j]; });
      cum.push(acc.slice());
    });
    var data = [d.x], series = [{}];
    for (var k = d.series.length - 1; k >= 0; k--) {
      var s = d.series[k];
      data.push(cum[k]);
      series.push({
        label: s.label, stroke: COLORS[s.key], fill: COLORS[s.key] + "d0", width: 1,
        points: { show: false },
        value: (function (own) {
          return function (u, v, si, i) { return i == null ? "—" : fmtInt(own[i]); };
        })(s.values)
      });
    }
    return [{
      width: widthOf(el), height: 260, series: series,
      axes: [{}, { values: function (u, vals) { return vals.map(fmtInt); }, size: 60 }],
      scales: { y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      hooks: { draw: [onDraw] }
    }, data];
  }

  function histogramOpts(el, d, onDraw) {
    var labels = d.labels || null;
    var opts = {
      width: widthOf(el), height: 260,
      scales: { x: { time: false, range: labels ? [-0.5, labels.length - 0.5] : [0, 100] },
                y: { range: function (u, min, max) { return [0, Math.max(1, max)]; } } },
      series: [
        { label: labels ? "Grouping" : "Score",
          value: function (u, v) { return v == null ? "—" : labels ? labels[v] : String(v); } },
        { label: "Requests", stroke: HIST, fill: HIST + "b0", width: 1,
          paths: uPlot.paths.bars({ size: [labels ? 0.6 : 0.9, 80] }), points: { show: false },
          value: function (u, v) { return fmtInt(v); } }
      ],
      axes: [
        labels ? { values: function (u, vals) { return vals.map(function (v) { return labels[v] || ""; }); },
                   splits: function () { return labels.map(function (_, i) { return i; }); } }
               : { values: function (u, vals) { return vals.map(String); } },
        { values: function (u, vals) { return vals.map(fmtInt); }, size: 60 }
      ],
      legend: { show: true },
      hooks: { draw: [onDraw] }
    };
    return [opts, [d.x, d.values]];
  }

  function drawAll() {
    destroyAll();
    var island = document.getElementById("chart-data");
    var els = document.querySelectorAll("[data-chart]");
    if (!island || !els.length || typeof uPlot === "undefined") { return; }
    var all = JSON.parse(island.textContent);
    var pending = els.length;
    function onDraw(u) {
      if (u._bwDrawn) { return; }
      u._bwDrawn = true;
      pending -= 1;
      if (pending === 0) {
        window.bwChartsDrawn = performance.now();
        document.documentElement.setAttribute("data-charts", "drawn");
        document.dispatchEvent(new CustomEvent("bw:charts-drawn"));
      }
    }
    els.forEach(function (el) {
      var kind = el.getAttribute("data-chart");
      var d = all[kind];
      if (!d) { pending -= 1; return; }
      el.textContent = "";
      var built = kind === "timeseries" ? timeseriesOpts(el, d, onDraw) : histogramOpts(el, d, onDraw);
      charts.push(new uPlot(built[0], built[1], el));
    });
  }

  var resizeTimer = null;
  window.addEventListener("resize", function () {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(function () {
      charts.forEach(function (c) { c.setSize({ width: widthOf(c.root.parentNode), height: 260 }); });
    }, 150);
  });

  document.addEventListener("click", function (ev) {
    var t = ev.target.closest ? ev.target.closest("[data-action=close-report]") : null;
    if (!t) { return; }
    var panel = document.getElementById("report-panel");
    if (panel) { panel.textContent = ""; }
    var opener = document.getElementById("report-open");
    if (opener) { opener.focus(); }
  });

  document.addEventListener("change", function (ev) {
    var t = ev.target;
    if (t && t.name === "type" && t.form) {
      var sub = t.form.querySelector("[name=subtype]");
      if (sub) { sub.disabled = t.value !== "false_negative"; }
    }
  });

  document.addEventListener("htmx:beforeSwap", function (ev) {
    if (ev.detail.target && ev.detail.target.id === "page") {
      window.bwChartsDrawn = undefined;
      document.documentElement.removeAttribute("data-charts");
    }
  });
  document.addEventListener("htmx:afterSettle", function (ev) {
    if (ev.detail.target && (ev.detail.target.id === "page" || !document.body.contains(ev.detail.target))) {
      drawAll();
    }
    var report = document.getElementById("report");
    if (ev.detail.target && ev.detail.target.id === "report-panel") {
      var focus = document.getElementById("report-done") || document.getElementById("report-errors")
        || (report && report.querySelector("input[type=radio]"));
      if (focus) { if (!focus.hasAttribute("tabindex") && !/INPUT|SELECT|TEXTAREA|BUTTON|A/.test(focus.tagName)) { focus.setAttribute("tabindex", "-1"); } focus.focus(); }
    }
  });

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", drawAll);
  } else {
    drawAll();
  }
})();
