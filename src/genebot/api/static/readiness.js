// Go-live readiness (seed 001) on the dashboard: the same report as `genebot validate
// --strategy NAME`. Pick a strategy and Check: a backtest runs on the server (seconds), then
// the score out of 100, whether it is ready, its three parts, every criterion with its figure
// and threshold, the critical issues and the warnings.

import { api, h, toast } from "/static/common.js";

const T = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);
const PARTS = { performance: "Out of sample", system: "System health", paper: "Paper record" };

export async function setupReadiness() {
  T("readiness-check").addEventListener("click", check);
  let got;
  try {
    got = await api("/api/strategies");
  } catch (exc) {
    toast(`strategies: ${exc.detail || exc}`, "error");
    return;
  }
  const strategies = got.strategies || [];
  const select = T("readiness-strategy");
  select.replaceChildren(...strategies.map((s) => h("option", { value: s.name }, s.enabled ? `${s.name} (configured)` : s.name)));
  const preferred = strategies.find((s) => s.enabled) || strategies[0];
  if (preferred) select.value = preferred.name;
  T("readiness-check").disabled = strategies.length === 0;
}

async function check() {
  const name = T("readiness-strategy").value;
  const button = T("readiness-check");
  button.disabled = true;
  T("readiness-state").textContent = `checking ${name}: an out-of-sample backtest runs…`;
  try {
    show(await api(`/api/strategies/${encodeURIComponent(name)}/readiness`));
  } catch (exc) {
    T("readiness-state").textContent = "";
    toast(`readiness of ${name}: ${exc.detail || exc}`, "error");
  } finally {
    button.disabled = false;
  }
}

function show(report) {
  T("readiness-state").textContent = "";
  const result = T("readiness-result");
  result.hidden = false;
  T("readiness-score").textContent = `${report.score} / 100`;
  const verdict = T("readiness-verdict");
  verdict.textContent = report.ready ? "READY" : "NOT READY";
  verdict.dataset.tone = report.ready ? "up" : "down";
  T("readiness-parts").replaceChildren(
    ...Object.entries(PARTS).map(([key, label]) => {
      const [passed, of] = report[key] || [0, 0];
      return h("li", { dataset: { part: key } }, `${label}: ${passed} of ${of}`);
    }),
  );
  T("readiness-items").replaceChildren(
    ...report.items.map((item) =>
      h(
        "tr",
        { testid: "readiness-item", dataset: { part: item.part, name: item.name, passed: item.passed ? "1" : "0" } },
        h("td", {}, PARTS[item.part] || item.part),
        h("td", {}, item.name.replaceAll("_", " ")),
        h("td", { dataset: { tone: item.passed ? "up" : "down" } }, item.passed ? "✓ pass" : "✗ fail"),
        h("td", { class: "num" }, `${item.points} / ${item.of}`),
        h("td", { class: "muted small" }, item.detail),
      ),
    ),
  );
  const notes = [...report.critical.map((c) => ({ text: c, kind: "critical" })), ...report.warnings.map((w) => ({ text: w, kind: "warning" }))];
  T("readiness-notes").replaceChildren(...notes.map((n) => h("li", { dataset: { kind: n.kind } }, `${n.kind === "critical" ? "Critical: " : ""}${n.text}`)));
}
