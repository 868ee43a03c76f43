// Charts of the participant dashboard and the trial overview (Chart.js 4, vendored).
// The data come from json_script elements rendered by the server; each chart has a table
// with the same numbers on the page. Words written here come from Django's JavaScript
// catalogue (gettext, interpolate: /jsi18n/, loaded by base.html).
(function () {
  "use strict";

  function readJson(id) {
    const element = document.getElementById(id);
    return element ? JSON.parse(element.textContent) : null;
  }

  function cssVar(name, fallback) {
    const value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    return value || fallback;
  }

  // Rescue spans (shaded) and infusion days (vertical lines), drawn behind the data.
  const markers = {
    id: "itpMarkers",
    beforeDatasetsDraw(chart, _args, options) {
      const { ctx, chartArea, scales } = chart;
      const x = scales.x;
      ctx.save();
      ctx.beginPath();
      ctx.rect(chartArea.left, chartArea.top, chartArea.right - chartArea.left, chartArea.bottom - chartArea.top);
      ctx.clip();
      ctx.fillStyle = "rgba(220, 53, 69, 0.12)";
      for (const span of options.rescue || []) {
        const left = x.getPixelForValue(span.from);
        const right = x.getPixelForValue(span.to);
        ctx.fillRect(left, chartArea.top, right - left, chartArea.bottom - chartArea.top);
      }
      ctx.strokeStyle = options.infusionColor;
      ctx.fillStyle = options.infusionColor;
      ctx.lineWidth = 1.5;
      ctx.font = "12px system-ui, sans-serif";
      ctx.textAlign = "center";
      for (const infusion of options.infusions || []) {
        const px = x.getPixelForValue(infusion.x);
        ctx.beginPath();
        ctx.moveTo(px, chartArea.top + 14);
        ctx.lineTo(px, chartArea.bottom);
        ctx.stroke();
        // Keep the label inside the plot: aligned to the side when the line is near an edge.
        const text = options.infusionLabel + infusion.number;
        const half = ctx.measureText(text).width / 2;
        ctx.textAlign = px + half > chartArea.right ? "right" : px - half < chartArea.left ? "left" : "center";
        ctx.fillText(text, px, chartArea.top + 11);
      }
      ctx.restore();
    },
  };

  function horizontal(label, y, xMin, xMax, color, dash) {
    return {
      type: "line",
      label: label,
      data: [{ x: xMin, y: y }, { x: xMax, y: y }],
      borderColor: color,
      borderDash: dash,
      borderWidth: 1.5,
      pointRadius: 0,
      pointHitRadius: 0,
      fill: false,
    };
  }

  function plateletChart() {
    const canvas = document.getElementById("platelet-chart");
    const data = readJson("platelet-chart-data");
    if (!canvas || !data || typeof Chart === "undefined") {
      return;
    }
    const labels = data.labels;
    const xs = data.points.map((p) => p.x)
      .concat(data.infusions.map((i) => i.x))
      .concat(data.rescue.flatMap((r) => [r.from, r.to]));
    // A margin either side so that the first and last points and labels are not clipped.
    const margin = Math.max(2, Math.round((Math.max(...xs) - Math.min(...xs)) * 0.03));
    const xMin = Math.min(...xs) - margin;
    const xMax = Math.max(...xs) + margin;
    const primary = cssVar("--bs-primary", "#0d6efd");
    const bleeding = (p) => p.bleeding !== null && p.bleeding >= data.bleeding_from;
    const datasets = [
      {
        type: "line",
        label: labels.platelets,
        data: data.points.map((p) => ({ x: p.x, y: p.y })),
        borderColor: primary,
        backgroundColor: primary,
        pointStyle: data.points.map((p) => (bleeding(p) ? "triangle" : "circle")),
        pointRadius: data.points.map((p) => (bleeding(p) ? 6 : 3)),
        tension: 0,
      },
    ];
    if (data.baseline !== null) {
      datasets.push(horizontal(labels.baseline, data.baseline, xMin, xMax, "#6c757d", [6, 4]));
    }
    datasets.push(horizontal(labels.r, data.thresholds.r, xMin, xMax, "#fd7e14", [2, 3]));
    datasets.push(horizontal(labels.cr, data.thresholds.cr, xMin, xMax, "#198754", [2, 3]));

    new Chart(canvas, {
      type: "line",
      data: { datasets: datasets },
      options: {
        maintainAspectRatio: false,
        animation: false,
        parsing: true,
        interaction: { mode: "nearest", intersect: true },
        scales: {
          x: {
            type: "linear",
            min: xMin,
            max: xMax,
            title: { display: true, text: data.axis },
            // Study days: infusion 1 is day 1 and the day before is -1; there is no day 0.
            afterBuildTicks: (axis) => {
              axis.ticks = axis.ticks.filter((tick) => tick.value !== 0);
            },
          },
          y: { beginAtZero: true, title: { display: true, text: labels.platelets } },
        },
        plugins: {
          legend: { position: "bottom" },
          tooltip: {
            filter: (item) => item.datasetIndex === 0,
            callbacks: {
              title: (items) => {
                const point = data.points[items[0].dataIndex];
                const title = interpolate(
                  gettext("%(date)s (study day %(day)s)"), { date: point.date, day: point.x }, true
                );
                return title + (point.visit ? " · " + point.visit : "");
              },
              label: (item) => {
                const point = data.points[item.dataIndex];
                const parts = [labels.platelets + ": " + point.y];
                if (point.bleeding !== null) {
                  parts.push(labels.bleeding + ": " + point.bleeding);
                }
                if (point.category) {
                  parts.push(labels.category + ": " + point.category);
                }
                return parts;
              },
            },
          },
          itpMarkers: {
            infusions: data.infusions,
            rescue: data.rescue,
            infusionLabel: labels.infusion,
            infusionColor: "rgba(111, 66, 193, 0.8)",
          },
        },
      },
      plugins: [markers],
    });
  }

  function responseChart() {
    const canvas = document.getElementById("response-chart");
    const data = readJson("response-chart-data");
    if (!canvas || !data || typeof Chart === "undefined") {
      return;
    }
    const colors = { CR: "#198754", R: "#20c997", NR: "#dc3545", NE: "#adb5bd" };
    new Chart(canvas, {
      type: "bar",
      data: {
        labels: data.visits,
        datasets: data.categories.map((category) => ({
          label: category,
          data: data.counts[category],
          backgroundColor: colors[category],
        })),
      },
      options: {
        maintainAspectRatio: false,
        animation: false,
        scales: {
          x: { stacked: true },
          y: { stacked: true, beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: data.labels.y } },
        },
        plugins: { legend: { position: "bottom" } },
      },
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    plateletChart();
    responseChart();
  });
})();
