// The Hall of Fame panel (seed 004's journey): the evolved strategies `genebot evolve` kept,
// best held-out Sharpe first; a row shows its rules, statistics and held-out equity curve, and
// Deploy (admin) opens the deploy dialog filled with the entry's strategy and parameters.

import { api, chartColors, cssVar, h, num, pct, toast } from "/static/common.js";

const T = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);
const hof = { admin: false, deploy: null, chart: null, line: null, chosen: null };

export function setupHallOfFame({ admin, deploy }) {
  hof.admin = admin;
  hof.deploy = deploy;
  T("hof-deploy").hidden = true;
  T("hof-deploy").addEventListener("click", () => {
    if (hof.chosen) hof.deploy(hof.chosen.deploy);
  });
  loadEntries();
}

async function loadEntries() {
  let got;
  try {
    got = await api("/api/halloffame");
  } catch (exc) {
    toast(`hall of fame: ${exc.detail || exc}`, "error");
    return;
  }
  const entries = got.entries || [];
  T("hof-body").replaceChildren(...entries.map(row));
  T("hof-count").textContent = entries.length ? `(${entries.length})` : "";
  T("hof-empty").hidden = entries.length > 0;
}

const fixed = (value, digits = 2) => (num(value) === null ? "—" : num(value).toFixed(digits));

function row(entry) {
  const held = entry.held_out || {};
  return h(
    "tr",
    { testid: "hof-row", dataset: { id: String(entry.id) }, tabindex: "0", class: "clickable", onclick: () => show(entry.id), onkeydown: (e) => e.key === "Enter" && show(entry.id) },
    h("td", {}, String(entry.id)),
    h("td", { testid: "hof-rules", class: "rules" }, entry.rules),
    h("td", { class: "num" }, fixed(held.sharpe)),
    h("td", { class: "num" }, held.max_drawdown === undefined ? "—" : pct(held.max_drawdown, { sign: false })),
    h("td", { class: "num" }, String(held.trades ?? "—")),
    h("td", { class: "num" }, fixed(entry.deflated_sharpe, 3)),
  );
}

async function show(id) {
  let entry;
  try {
    entry = await api(`/api/halloffame/${id}`);
  } catch (exc) {
    toast(`hall of fame ${id}: ${exc.detail || exc}`, "error");
    return;
  }
  hof.chosen = entry;
  for (const tr of document.querySelectorAll('[data-testid="hof-row"]')) tr.classList.toggle("selected", tr.dataset.id === String(id));
  T("hof-detail").hidden = false;
  T("hof-detail-rules").textContent = entry.rules;
  const held = entry.held_out || {};
  T("hof-detail-stats").textContent = `held-out Sharpe ${fixed(held.sharpe)} · return ${pct(held.total_return)} · ${held.trades ?? 0} trades · deflated Sharpe ${fixed(entry.deflated_sharpe, 3)} of ${entry.candidates} candidates · seed ${entry.seed}`;
  T("hof-deploy").hidden = !hof.admin;
  drawEquity(entry.equity || []);
}

function drawEquity(points) {
  const lib = window.LightweightCharts;
  T("hof-equity-empty").hidden = points.length > 0;
  if (!lib) return;
  if (!hof.chart) {
    hof.chart = lib.createChart(T("hof-equity"), { autoSize: true, ...chartColors() });
    hof.line = hof.chart.addLineSeries({ color: cssVar("--accent"), lineWidth: 2, priceLineVisible: false });
  }
  const byTime = new Map(points.map((p) => [Math.floor(Date.parse(p.time) / 1000), p.equity]));
  hof.line.setData([...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([time, value]) => ({ time, value })));
  hof.chart.timeScale().fitContent();
  T("hof-equity").dataset.points = String(byTime.size);
}
