// Seed 000's orchestration view: the allocation across strategies now, the rebalancing
// history with its triggers, attribution (from the running orchestrated deployment, else the
// newest orchestrated backtest). Refreshed when the orchestrator journals a change.

import {
  EventStream,
  api,
  connectionBadge,
  h,
  money,
  num,
  pct,
  setupTheme,
  signIn,
  signedIn,
  throttle,
  toast,
  when,
} from "/static/common.js";

const T = (id) => document.querySelector(`[data-testid="${id}"]`);
let deploymentId = null;

async function main() {
  setupTheme();
  let who;
  try {
    who = await signIn();
  } catch (exc) {
    toast(`cannot reach the API: ${exc.detail || exc}`, "error");
    return;
  }
  signedIn(who);
  document.getElementById("app-view").hidden = false;
  document.getElementById("orch-refresh").addEventListener("click", load);
  await load();
  const again = throttle(load, 3000);
  const stream = new EventStream({
    onHello: (_, reconnected) => reconnected && load(),
    onMessage: (m) => {
      const kind = String(m.kind || "");
      if (m.type === "event" && (kind.startsWith("orchestrator.") || kind.startsWith("runtime."))) again();
      if (m.type === "status" && m.deployment_id === deploymentId) again();
    },
    onState: connectionBadge,
  });
  stream.connect();
}

async function load() {
  let data;
  try {
    data = await api("/api/orchestration/status");
  } catch (exc) {
    T("orch-source").textContent = `orchestration status: ${exc.detail}`;
    return;
  }
  deploymentId = data.deployment_id || null;
  render(data);
}

function render(data) {
  const source = T("orch-source");
  source.dataset.source = data.source;
  if (data.source === "deployment") {
    source.textContent = `Live: orchestrated deployment ${data.deployment?.name || data.deployment_id} (${data.deployment?.status || "?"})`;
  } else if (data.source === "backtest") {
    source.textContent = `From the newest orchestrated backtest: ${data.title || ""} (run ${data.run_id}). No orchestrated deployment is running.`;
  } else {
    source.textContent = data.message || "Nothing orchestrated yet.";
  }
  renderStats(data);
  renderAllocation(data.allocation || {});
  renderHistory(data.history || []);
  genericTable(T("orch-attribution"), data.attribution || [], T("orch-attribution-empty"));
  const interventions = data.interventions || [];
  T("orch-interventions-panel").hidden = !interventions.length;
  genericTable(T("orch-interventions"), interventions, null);
}

function renderStats(data) {
  const box = T("orch-stats");
  const items = [];
  const dep = data.deployment;
  if (dep) {
    items.push(["Equity", money(dep.equity, { sign: false })], ["Total P&L", `${money(dep.total_pnl)} (${pct(dep.total_pnl_pct)})`], ["Drawdown", pct(dep.drawdown, { sign: false })], ["Trades", String(dep.trades)]);
  }
  const stats = data.stats || {};
  const wanted = { total_return: "Total return", sharpe_ratio: "Sharpe", max_drawdown: "Max drawdown", total_trades: "Trades", win_rate: "Win rate", final_equity: "Final equity" };
  for (const [key, label] of Object.entries(wanted)) {
    if (!(key in stats)) continue;
    const v = stats[key];
    const text = /return|drawdown|win_rate/.test(key) ? pct(v, { sign: key === "total_return" }) : key === "final_equity" ? money(v, { sign: false }) : fmt(v);
    items.push([label, text]);
  }
  if ((data.paused || []).length) items.push(["Paused", data.paused.join(", ")]);
  box.replaceChildren(...items.map(([k, v]) => h("div", { class: "stat" }, h("span", { class: "label" }, k), h("span", { class: "value" }, v))));
}

function renderAllocation(allocation) {
  const rows = Object.entries(allocation).sort((a, b) => (num(b[1].weight) ?? 0) - (num(a[1].weight) ?? 0));
  T("orch-allocation").replaceChildren(
    ...rows.map(([name, a]) => {
      const w = num(a.weight) ?? 0;
      const fill = h("span");
      fill.style.width = `${Math.min(100, w * 100).toFixed(1)}%`; // CSSOM: the CSP allows no style attributes
      return h(
        "div",
        { class: "alloc-row", testid: "orch-allocation-row", dataset: { strategy: name } },
        h("span", {}, name),
        h("span", { class: "alloc-track", role: "img", "aria-label": `${name} ${pct(w, { sign: false })}` }, fill),
        h("span", { class: "num" }, `${pct(w, { sign: false, digits: 1 })} · ${money(a.capital, { sign: false })}`),
      );
    }),
  );
  T("orch-allocation-empty").hidden = rows.length > 0;
}

function renderHistory(history) {
  const rows = [...history].reverse().slice(0, 200);
  const body = T("orch-history").querySelector("tbody");
  body.replaceChildren(
    ...rows.map((r) =>
      h(
        "tr",
        { testid: "orch-history-row" },
        h("td", {}, when(r.ts || r.time || r.recorded_at)),
        h("td", {}, r.strategy ?? "—"),
        h("td", { class: "num" }, pct(r.weight, { sign: false, digits: 1 })),
        h("td", { class: "num" }, money(r.capital, { sign: false })),
        h("td", {}, r.trigger ?? r.reason ?? "—"),
      ),
    ),
  );
  T("orch-history-count").textContent = history.length ? `(${history.length})` : "";
  T("orch-history-empty").hidden = history.length > 0;
}

function fmt(v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") return Number.isInteger(v) ? String(v) : v.toFixed(4);
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
}

/** A value by its column's name: money, a fraction as %, a ratio, or as it is. */
function cell(key, value) {
  if (num(value) === null || typeof value === "boolean") return fmt(value);
  if (/capital|pnl|transfers|equity/.test(key)) return money(value, { sign: key.includes("pnl") || key.includes("transfers") });
  if (/contribution|return|drawdown|weight|rate/.test(key)) return pct(value, { sign: !/drawdown|weight|rate/.test(key) });
  if (/sharpe|sortino|ratio/.test(key)) return num(value).toFixed(2);
  return fmt(num(value));
}

function genericTable(table, rows, empty) {
  const keys = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  table.querySelector("thead").replaceChildren(h("tr", {}, keys.map((k) => h("th", { class: rows.some((r) => num(r[k]) !== null) ? "num" : "" }, k.replace(/_/g, " ")))));
  table.querySelector("tbody").replaceChildren(
    ...rows.map((r) =>
      h(
        "tr",
        { testid: `${table.dataset.testid}-row` },
        keys.map((k) => h("td", { class: num(r[k]) !== null && typeof r[k] !== "boolean" ? "num" : "" }, cell(k, r[k]))),
      ),
    ),
  );
  if (empty) empty.hidden = rows.length > 0;
}

main();
