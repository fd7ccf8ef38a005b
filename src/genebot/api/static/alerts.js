// The alerts panel (issue 17): the newest alerts from /api/alerts, live over the websocket
// (a runner journals "alert.fired"), with Acknowledge for admins and a filter for the ones
// still open. A client of the public API like the rest of the dashboard.

import { api, h, toast, when } from "/static/common.js";

const T = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);
const LIMIT = 50;
const panel = { admin: false, open: false, rows: [] };

export function setupAlerts({ admin }) {
  panel.admin = admin;
  const onlyOpen = T("alerts-open-only");
  onlyOpen.addEventListener("change", () => {
    panel.open = onlyOpen.checked;
    loadAlerts();
  });
  loadAlerts();
}

export async function loadAlerts() {
  try {
    const query = { limit: LIMIT };
    if (panel.open) query.unacknowledged = true;
    const got = await api("/api/alerts", { query });
    panel.rows = got.alerts || [];
  } catch (exc) {
    toast(`alerts: ${exc.detail || exc}`, "error");
    return;
  }
  render();
}

/** A websocket message: reload when a runner fired an alert or someone acknowledged one. */
export function onAlertMessage(message) {
  const kind = String(message.kind || "");
  if (kind === "alert.fired" || kind === "api.alert_acknowledged") reloadSoon();
}

let timer = null;
function reloadSoon() {
  if (timer) return;
  timer = setTimeout(() => {
    timer = null;
    loadAlerts();
  }, 300);
}

function render() {
  const body = T("alerts-body");
  body.replaceChildren(...panel.rows.map(row));
  const open = panel.rows.filter((a) => !a.acknowledged).length;
  T("alerts-count").textContent = panel.rows.length ? `(${open} open)` : "";
  T("alerts-empty").hidden = panel.rows.length > 0;
}

function row(alert) {
  const severity = String(alert.severity || "").toLowerCase();
  const action = alert.acknowledged
    ? h("span", { class: "muted small", testid: "alert-acked" }, "acknowledged")
    : panel.admin
      ? h("button", { type: "button", class: "ghost", testid: "alert-ack", onclick: () => ack(alert) }, "Acknowledge")
      : h("span", { class: "muted small" }, "open");
  return h(
    "tr",
    { testid: "alert-row", dataset: { id: String(alert.id), severity, acknowledged: String(!!alert.acknowledged) } },
    h("td", {}, when(alert.ts)),
    h("td", {}, h("span", { class: `sev sev-${severity}`, testid: "alert-severity" }, severity.toUpperCase())),
    h("td", { testid: "alert-rule" }, alert.rule),
    h("td", { testid: "alert-message" }, alert.message),
    h("td", {}, action),
  );
}

async function ack(alert) {
  try {
    await api(`/api/alerts/${alert.id}/acknowledge`, { method: "POST", body: { reason: "acknowledged on the dashboard" } });
    toast(`alert ${alert.rule} acknowledged`);
  } catch (exc) {
    toast(`acknowledge: ${exc.detail || exc}`, "error");
  }
  loadAlerts();
}
