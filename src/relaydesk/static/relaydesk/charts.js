/* Draws the dashboards' charts with the vendored Chart.js. Each chart is a <canvas
   data-chart="ID"> whose figures sit in <script type="application/json" id="ID"> (Django's
   json_script), so no inline script is needed under the Content-Security-Policy. The
   same figures are in the table beside the chart and in its CSV. */
(function () {
  "use strict";
  var PALETTE = ["#2563eb", "#16a34a", "#d97706", "#9333ea", "#dc2626", "#0891b2", "#4b5563", "#db2777"];
  var KINDS = { line: "line", bar: "bar", stacked: "bar", hbar: "bar" };

  function numberText(value, unit) {
    if (value === null || value === undefined) { return "–"; }
    var text = Number(value).toLocaleString(undefined, { maximumFractionDigits: 1 });
    return unit === "%" ? text + " %" : unit ? text + " " + unit : text;
  }

  function config(spec) {
    var stacked = spec.kind === "stacked";
    var datasets = spec.series.map(function (series, index) {
      var colour = series.colour || PALETTE[index % PALETTE.length];
      return {
        label: series.label,
        data: series.values,
        borderColor: colour,
        backgroundColor: spec.kind === "line" ? colour : colour + "cc",
        borderWidth: spec.kind === "line" ? 2 : 0,
        pointRadius: spec.kind === "line" ? 2 : 0,
        tension: 0.2,
        spanGaps: true,
        borderDash: series.dashed ? [6, 4] : undefined,
        type: series.kind ? KINDS[series.kind] : undefined,
        order: series.kind === "line" ? 0 : 1
      };
    });
    var valueAxis = {
      beginAtZero: true,
      stacked: stacked,
      suggestedMax: spec.unit === "%" ? 100 : undefined,
      // Counts are whole items: no 0.2 ticks.
      ticks: { precision: spec.unit ? undefined : 0, callback: function (value) { return numberText(value, spec.unit); } }
    };
    var labelAxis = { stacked: stacked, ticks: { autoSkip: true, maxRotation: 0 } };
    var horizontal = spec.kind === "hbar";
    return {
      type: KINDS[spec.kind] || "bar",
      data: { labels: spec.labels, datasets: datasets },
      options: {
        indexAxis: horizontal ? "y" : "x",
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { display: spec.series.length > 1, position: "bottom" },
          tooltip: {
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + numberText(item.raw, spec.unit);
              }
            }
          }
        },
        scales: horizontal ? { x: valueAxis, y: labelAxis } : { x: labelAxis, y: valueAxis }
      }
    };
  }

  function draw() {
    if (typeof window.Chart === "undefined") { return; }
    document.querySelectorAll("canvas[data-chart]").forEach(function (canvas) {
      var source = document.getElementById(canvas.getAttribute("data-chart"));
      if (!source) { return; }
      var chart = new window.Chart(canvas, config(JSON.parse(source.textContent)));
      canvas.setAttribute("data-drawn", String(chart.data.datasets.length));
    });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
