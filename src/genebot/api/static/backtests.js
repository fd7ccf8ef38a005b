// The stored backtests panel: runs `genebot backtest` saved to the database, newest first, with
// their headline statistics; Report opens a run's HTML report in a new tab through a
// short-lived link (a new tab cannot send the bearer token, and the token never goes in a URL).

import { api, h, num, pct, toast, when } from "/static/common.js";

const T = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);
const PER_PAGE = 10;
const runs = { page: 1, pages: 1 };

export function setupBacktests() {
  T("backtests-prev").addEventListener("click", () => loadRuns(runs.page - 1));
  T("backtests-next").addEventListener("click", () => loadRuns(runs.page + 1));
  loadRuns(1);
}

async function loadRuns(page) {
  let got;
  try {
    got = await api("/api/backtests", { query: { page: Math.max(1, page), per_page: PER_PAGE } });
  } catch (exc) {
    toast(`backtests: ${exc.detail || exc}`, "error");
    return;
  }
  runs.page = got.page;
  runs.pages = got.pages;
  const items = got.backtests || [];
  T("backtests-body").replaceChildren(...items.map(row));
  T("backtests-count").textContent = got.total ? `(${got.total})` : "";
  T("backtests-empty").hidden = items.length > 0;
  T("backtests-page").textContent = `${got.page} / ${got.pages}`;
  T("backtests-prev").disabled = got.page <= 1;
  T("backtests-next").disabled = got.page >= got.pages;
}

const fixed = (value, digits = 2) => (num(value) === null ? "—" : num(value).toFixed(digits));
const day = (iso) => (iso ? String(iso).slice(0, 10) : "—");

function row(run) {
  const report = run.has_report
    ? h("button", { type: "button", class: "ghost small", testid: "backtest-report", onclick: () => openReport(run.id) }, "Report ↗")
    : h("span", { class: "muted small", title: "its output folder has no report.html" }, "no report");
  return h(
    "tr",
    { testid: "backtest-row", dataset: { id: String(run.id) } },
    h("td", {}, String(run.id)),
    h("td", {}, run.title || (run.strategies || []).join(", ")),
    h("td", {}, when(run.created_at)),
    h("td", {}, `${day(run.start)} → ${day(run.end)}`),
    h("td", { class: "num" }, pct(run.total_return)),
    h("td", { class: "num" }, fixed(run.sharpe)),
    h("td", { class: "num" }, run.max_drawdown == null ? "—" : pct(run.max_drawdown, { sign: false })),
    h("td", { class: "num" }, String(run.trades ?? "—")),
    h("td", {}, report),
  );
}

async function openReport(id) {
  // the tab is opened inside the click (popup blockers), then sent to the signed link
  const tab = window.open("about:blank", "_blank");
  try {
    const link = await api(`/api/backtests/${id}/report-link`);
    if (tab) {
      tab.opener = null;
      tab.location.href = link.url;
    } else {
      location.assign(link.url);
    }
  } catch (exc) {
    if (tab) tab.close();
    toast(`report ${id}: ${exc.detail || exc}`, "error");
  }
}
