// The trading dashboard (seed 004): overview and equity curve, the deployments grid with its
// controls, open positions, trade history, the safety widget (seed 002), the deploy dialog, the
// emergency stop, a candlestick chart with the trades on it. Live over /api/ws; every control
// asks first in an in-page <dialog>.

import {
  ApiError,
  EventStream,
  api,
  chartColors,
  connectionBadge,
  cssVar,
  debounce,
  duration,
  h,
  money,
  num,
  pct,
  price,
  qty,
  setupTheme,
  showError,
  signIn,
  signedIn,
  throttle,
  toast,
  tone,
  when,
} from "/static/common.js";
import { onAlertMessage, setupAlerts } from "/static/alerts.js";
import { setupHallOfFame } from "/static/halloffame.js";
import { setupBacktests } from "/static/backtests.js";
import { setupReadiness } from "/static/readiness.js";

const PER_PAGE = 10;
const $ = (sel, root = document) => root.querySelector(sel);
const T = (id, root = document) => root.querySelector(`[data-testid="${id}"]`);

const state = {
  who: null,
  cards: new Map(), // id -> card
  order: [], // ids, newest first
  views: new Map(), // id -> card element refs
  selected: null,
  positions: [],
  history: { items: [], page: 1, pages: 1, total: 0 },
  markers: [],
  filters: { reason: "", symbol: "" },
  safety: null,
  strategies: null,
  stream: null,
  charts: {},
  candleKey: null,
};

const isAdmin = () => state.who?.role === "admin";
const selectedCard = () => (state.selected ? state.cards.get(state.selected) : null);
const running = (card) => card.status === "active" || card.status === "paused";

// -- start -----------------------------------------------------------------------------------
async function main() {
  setupTheme();
  try {
    state.who = await signIn();
  } catch (exc) {
    toast(`cannot reach the API: ${exc.detail || exc}`, "error");
    return;
  }
  signedIn(state.who);
  $("#app-view").hidden = false;
  bindControls();
  setupCharts();
  setupAlerts({ admin: isAdmin() });
  setupHallOfFame({ admin: isAdmin(), deploy: openDeploy });
  setupBacktests();
  setupReadiness();
  state.selected = sessionStorage.getItem("genebot.selected");
  await loadDeployments();
  state.stream = new EventStream({ onHello, onMessage, onState: connectionBadge });
  state.stream.connect();
}

function bindControls() {
  if (isAdmin()) {
    $("#open-deploy").hidden = false;
    $("#open-deploy").addEventListener("click", () => openDeploy());
    $("#emergency-stop").addEventListener("click", emergencyStop);
    $("#reset-kill-switch").addEventListener("click", resetKillSwitch);
    setupDeployForm();
  }
  $("#filter-reason").addEventListener("change", () => {
    state.filters.reason = $("#filter-reason").value;
    loadHistory(1);
  });
  $("#filter-symbol").addEventListener(
    "input",
    debounce(() => {
      state.filters.symbol = $("#filter-symbol").value.trim();
      loadHistory(1);
    }, 300),
  );
  $("#history-filters").addEventListener("submit", (e) => e.preventDefault());
  $("#history-prev").addEventListener("click", () => loadHistory(state.history.page - 1));
  $("#history-next").addEventListener("click", () => loadHistory(state.history.page + 1));
  $("#confirm-cancel").addEventListener("click", () => $("#confirm-dialog").close("cancel"));
  window.addEventListener("themechange", themeCharts);
}

// -- live updates ----------------------------------------------------------------------------
function onHello(_hello, reconnected) {
  if (reconnected) resync(); // what happened while we were away
}

async function resync() {
  await loadDeployments();
  if (state.selected) refreshSelected();
}

const reloadGrid = debounce(() => loadDeployments(), 250);
const reloadHistory = debounce(() => loadHistory(state.history.page), 250);
const reloadSafety = throttle(() => loadSafety(), 1000);
const reloadSafetySlow = throttle(() => loadSafety(), 2000);
const reloadEquity = throttle(() => loadEquity(), 2000);
const reloadCandles = throttle(() => loadCandles(), 3000);

function onMessage(message) {
  if (message.type === "status") {
    const { deployment_id: id, card, positions } = message;
    const before = state.cards.get(id);
    upsertCard(card);
    if (!before) reloadGrid(); // a new deployment: put it in its place
    if (id === state.selected) {
      renderOverview(card);
      state.positions = positions || [];
      renderPositions();
      renderPriceLines();
      if (!before || before.trades !== card.trades) reloadHistory();
      if (!before || before.status !== card.status) reloadSafety();
      else reloadSafetySlow();
      reloadEquity();
    }
    syncEmergency();
    return;
  }
  if (message.type !== "event") return;
  onAlertMessage(message);
  const kind = String(message.kind || "");
  const mine = message.deployment_id && message.deployment_id === state.selected;
  if (kind.startsWith("kill_switch.") || kind.startsWith("api.safety")) {
    if (mine || !message.deployment_id) reloadSafety();
  }
  if (/^(runtime|operator|api|kill_switch)\./.test(kind)) reloadGrid();
  if (kind === "runtime.finished" || /^operator\.(stop|emergency_stop)/.test(kind)) {
    if (message.deployment_id) untilStopped(message.deployment_id);
  }
  if (mine && (kind === "OrderFilled" || kind.startsWith("trade"))) reloadHistory();
}

/** A runner journals runtime.finished a moment before it marks its deployment stopped, and
 * nothing is pushed after that: look again until the card says so (at most 30 s). */
const following = new Set();
async function untilStopped(id) {
  if (following.has(id)) return;
  following.add(id);
  try {
    for (let i = 0; i < 40; i += 1) {
      await new Promise((r) => setTimeout(r, 750));
      const card = state.cards.get(id);
      if (card && !running(card)) return;
      await loadDeployments();
    }
  } finally {
    following.delete(id);
  }
}

// a slow look at the grid while anything runs (uptime, and anything a push missed)
setInterval(() => {
  if (state.who && [...state.cards.values()].some(running)) reloadGrid();
}, 10000);

// -- deployments grid ------------------------------------------------------------------------
let gridAsked = 0;
let gridShown = 0;
async function loadDeployments() {
  const ticket = ++gridAsked;
  let data;
  try {
    data = await api("/api/trading/deployments");
  } catch (exc) {
    toast(`deployments: ${exc.detail}`, "error");
    return;
  }
  if (ticket < gridShown) return; // a newer answer is on screen already
  gridShown = ticket;
  // deployments are never deleted; one the page has seen (pushed, or just deployed) stays even
  // if this answer was read a moment before it existed
  for (const card of data.deployments || []) upsertCard(card);
  const cards = [...state.cards.values()].sort((a, b) => String(b.started_at).localeCompare(String(a.started_at)));
  state.order = cards.map((c) => c.id); // newest first
  const grid = $("#deployments");
  for (const id of state.order) grid.append(state.views.get(id).el); // newest first
  T("deployments-count").textContent = cards.length ? `(${cards.length})` : "";
  T("deployments-empty").hidden = cards.length > 0;
  if (!state.selected || !state.cards.has(state.selected)) {
    const first = cards.find(running) || cards[0];
    if (first) select(first.id);
    else clearSelection();
  } else {
    markSelected();
    renderOverview(selectedCard());
    if (!state.loadedOnce) refreshSelected();
  }
  state.loadedOnce = true;
  syncEmergency();
}

function syncEmergency() {
  const button = $("#emergency-stop");
  if (!button) return;
  button.hidden = !isAdmin() || ![...state.cards.values()].some(running);
}

function upsertCard(card) {
  state.cards.set(card.id, card);
  let view = state.views.get(card.id);
  if (!view) {
    view = buildCard(card);
    state.views.set(card.id, view);
    if (!state.order.includes(card.id)) {
      state.order.unshift(card.id);
      $("#deployments").prepend(view.el);
      T("deployments-empty").hidden = true;
    }
  }
  updateCard(view, card);
}

function buildCard(card) {
  const field = (label, testid) => {
    const value = h("dd", { testid });
    return { row: [h("dt", {}, label), value], value };
  };
  const f = {
    uptime: field("Uptime", "card-uptime"),
    trades: field("Trades", "card-trades"),
    winRate: field("Win rate", "card-win-rate"),
    total: field("Total P&L", "card-total-pnl"),
    daily: field("Daily P&L", "card-daily-pnl"),
    open: field("Open positions", "card-open-positions"),
    drawdown: field("Drawdown", "card-drawdown"),
    equity: field("Equity", "card-equity"),
  };
  const name = h("button", { type: "button", class: "link card-name", testid: "card-select" });
  const badge = h("span", { class: "badge", testid: "card-badge" });
  const status = h("span", { class: "status", testid: "card-status" });
  const meta = h("p", { class: "muted small card-meta", testid: "card-meta" });
  const halt = h("p", { class: "small card-halt", testid: "card-halt", hidden: true });
  const actions = h("div", { class: "card-actions" });
  const el = h(
    "article",
    { class: "card", testid: "deployment-card", dataset: { id: card.id } },
    h("header", { class: "card-head" }, name, h("span", { class: "badges" }, badge, status)),
    meta,
    halt,
    h("dl", { class: "card-stats" }, Object.values(f).map((x) => x.row)),
    actions,
  );
  el.addEventListener("click", (event) => {
    if (event.target.closest(".card-actions")) return;
    select(card.id);
  });
  return { el, name, badge, status, meta, halt, actions, f, actionsFor: null };
}

function updateCard(view, card) {
  const { el, f } = view;
  el.dataset.status = card.status;
  el.dataset.mode = card.mode;
  view.name.textContent = card.name;
  view.name.title = `${card.id} — show it below`;
  const live = card.mode === "live";
  view.badge.textContent = live ? "LIVE TRADING" : "PAPER TRADING";
  view.badge.className = `badge ${live ? "badge-live" : "badge-paper"}${running(card) ? " on" : ""}`;
  view.status.textContent = card.status;
  view.status.className = `status status-${card.status}`;
  view.meta.textContent = `${(card.strategies || []).join(", ")} · ${(card.symbols || []).join(", ")} · ${(card.timeframes || []).join(", ")}`;
  const halted = running(card) && String(card.risk_state || "").startsWith("HALTED");
  view.halt.hidden = !halted;
  view.halt.textContent = halted ? `risk halted: ${card.halt_rule || "kill switch"} (no new entries)` : "";
  f.uptime.value.textContent = duration(card.uptime_s);
  f.trades.value.textContent = String(card.trades ?? 0);
  f.winRate.value.textContent = card.win_rate === null || card.win_rate === undefined ? "—" : pct(card.win_rate, { sign: false, digits: 0 });
  setPnl(f.total.value, card.total_pnl, card.total_pnl_pct);
  setPnl(f.daily.value, card.daily_pnl, card.daily_pnl_pct);
  f.open.value.textContent = String(card.open_positions ?? 0);
  f.drawdown.value.textContent = pct(card.drawdown, { sign: false });
  f.equity.value.textContent = money(card.equity, { sign: false });
  const wanted = isAdmin() && running(card) ? card.status : "none";
  if (view.actionsFor !== wanted) {
    view.actionsFor = wanted;
    renderCardActions(view, card);
  }
}

function setPnl(el, value, fraction) {
  el.textContent = `${money(value)} (${pct(fraction)})`;
  el.dataset.tone = tone(value);
}

function renderCardActions(view, card) {
  view.actions.replaceChildren();
  if (!isAdmin() || !running(card)) return;
  const id = card.id;
  if (card.status === "paused") {
    view.actions.append(
      h("button", { type: "button", class: "ghost", testid: "card-resume", onclick: () => control(id, "resume") }, "▶ Resume"),
    );
  } else {
    view.actions.append(
      h("button", { type: "button", class: "ghost", testid: "card-pause", onclick: () => control(id, "pause") }, "❚❚ Pause"),
    );
  }
  view.actions.append(
    h("button", { type: "button", class: "danger", testid: "card-stop", onclick: () => control(id, "stop") }, "■ Stop"),
  );
}

const CONTROLS = {
  pause: {
    title: (n) => `Pause ${n}?`,
    message: "No new entries while paused; exits and protective orders keep working.",
    reason: "paused from the dashboard",
    ok: "Pause",
  },
  resume: {
    title: (n) => `Resume ${n}?`,
    message: "It takes new entries again.",
    reason: "resumed from the dashboard",
    ok: "Resume",
  },
  stop: {
    title: (n) => `Stop ${n}?`,
    message: "Cancels its orders, closes its positions and ends the deployment.",
    reason: "stopped from the dashboard",
    ok: "Stop",
  },
};

async function control(id, what) {
  const card = state.cards.get(id);
  const spec = CONTROLS[what];
  await confirmDialog({
    title: spec.title(card?.name || id.slice(0, 12)),
    message: spec.message,
    reason: "optional",
    reasonDefault: spec.reason,
    ok: spec.ok,
    action: async (reason) => {
      const got = await api(`/api/trading/${what}/${encodeURIComponent(id)}`, { method: "POST", body: { reason } });
      toast(`${card?.name || id}: ${got.outcome}`);
      reloadGrid();
      if (what === "stop") untilStopped(id);
    },
  });
}

// -- selection -------------------------------------------------------------------------------
function select(id) {
  if (!state.cards.has(id)) return;
  const changed = state.selected !== id;
  state.selected = id;
  sessionStorage.setItem("genebot.selected", id);
  markSelected();
  renderOverview(selectedCard());
  if (changed || !state.loadedOnce) {
    state.history.page = 1;
    state.positions = [];
    state.equityFitted = false;
    refreshSelected();
  }
}

function markSelected() {
  for (const [id, view] of state.views) {
    const on = id === state.selected;
    view.el.classList.toggle("selected", on);
    view.name.setAttribute("aria-pressed", on ? "true" : "false");
  }
}

function clearSelection() {
  state.selected = null;
  renderOverview(null);
  state.positions = [];
  renderPositions();
  state.history = { items: [], page: 1, pages: 1, total: 0 };
  renderHistory();
  renderSafety(null);
}

function refreshSelected() {
  state.dataTime = null;
  loadEquity().then(loadCandles); // the candles end at the run's data time, which the curve knows
  loadPositions();
  loadHistory(state.history.page || 1);
  loadSafety();
}

// -- overview --------------------------------------------------------------------------------
function renderOverview(card) {
  T("overview-name").textContent = card ? `· ${card.name}` : "";
  T("overview-equity").textContent = card ? money(card.equity, { sign: false }) : "—";
  const total = T("overview-total-pnl");
  total.textContent = card ? money(card.total_pnl) : "—";
  total.dataset.tone = card ? tone(card.total_pnl) : "flat";
  T("overview-total-pnl-pct").textContent = card ? pct(card.total_pnl_pct) : "";
  const daily = T("overview-daily-pnl");
  daily.textContent = card ? money(card.daily_pnl) : "—";
  daily.dataset.tone = card ? tone(card.daily_pnl) : "flat";
  T("overview-daily-pnl-pct").textContent = card ? pct(card.daily_pnl_pct) : "";
  T("overview-win-rate").textContent = card && card.win_rate !== null && card.win_rate !== undefined ? pct(card.win_rate, { sign: false, digits: 1 }) : "—";
  T("overview-drawdown").textContent = card ? pct(card.drawdown, { sign: false }) : "—";
  const risk = T("overview-risk");
  const value = card?.risk_state || "OFF";
  risk.dataset.state = value;
  risk.textContent = `risk ${value}${card?.halt_rule ? `: ${card.halt_rule}` : ""}`;
}

// -- charts ----------------------------------------------------------------------------------
function setupCharts() {
  const lib = window.LightweightCharts;
  if (!lib) {
    T("candles-note").textContent = "charting library did not load";
    return;
  }
  const base = {
    autoSize: true,
    ...chartColors(),
    timeScale: { ...chartColors().timeScale, timeVisible: true, secondsVisible: false },
    crosshair: { mode: lib.CrosshairMode.Normal },
  };
  const equity = lib.createChart($("#equity-chart"), base);
  const line = equity.addLineSeries({ color: cssVar("--accent"), lineWidth: 2, priceLineVisible: false });
  const candles = lib.createChart($("#candle-chart"), base);
  const bars = candles.addCandlestickSeries({
    upColor: cssVar("--up"),
    downColor: cssVar("--down"),
    borderVisible: false,
    wickUpColor: cssVar("--up"),
    wickDownColor: cssVar("--down"),
  });
  state.charts = { equity, line, candles, bars, priceLines: [] };
}

function themeCharts() {
  const { equity, candles, line, bars } = state.charts;
  if (!equity) return;
  for (const chart of [equity, candles]) chart.applyOptions(chartColors());
  line.applyOptions({ color: cssVar("--accent") });
  bars.applyOptions({ upColor: cssVar("--up"), downColor: cssVar("--down"), wickUpColor: cssVar("--up"), wickDownColor: cssVar("--down") });
}

/** Strictly increasing times (the chart's rule): the last value per second wins. */
function series(points, value) {
  const byTime = new Map();
  for (const p of points) {
    const t = num(p.time);
    if (t !== null) byTime.set(Math.floor(t), value(p));
  }
  return [...byTime.entries()].sort((a, b) => a[0] - b[0]).map(([time, v]) => ({ time, ...v }));
}

async function loadEquity() {
  const id = state.selected;
  if (!id || !state.charts.line) return;
  let data;
  try {
    data = await api(`/api/equity/${encodeURIComponent(id)}`);
  } catch (exc) {
    T("equity-empty").textContent = `equity: ${exc.detail}`;
    T("equity-empty").hidden = false;
    return;
  }
  if (id !== state.selected) return;
  const points = series(data.points || [], (p) => ({ value: num(p.equity) }));
  state.charts.line.setData(points);
  const last = points.length ? points[points.length - 1].time : null;
  if (last !== null && last !== state.dataTime) {
    const first = state.dataTime === null;
    state.dataTime = last; // the replay's clock (data time), not the wall clock
    if (!first) reloadCandles();
  }
  $("#equity-chart").dataset.points = String(points.length);
  T("equity-empty").textContent = "No equity points yet.";
  T("equity-empty").hidden = points.length > 0;
  if (points.length && !state.equityFitted) {
    state.charts.equity.timeScale().fitContent();
    state.equityFitted = true;
  }
}

async function loadCandles() {
  const card = selectedCard();
  const { bars, candles } = state.charts;
  if (!card || !bars) return;
  const symbol = (card.symbols || [])[0];
  const timeframe = (card.timeframes || [])[0] || "5m";
  T("candles-symbol").textContent = symbol ? `· ${symbol} ${timeframe}` : "";
  if (!symbol) {
    bars.setData([]);
    bars.setMarkers([]);
    T("candles-note").textContent = "this deployment trades no symbol";
    return;
  }
  const key = `${card.id}|${symbol}|${timeframe}`;
  let data;
  try {
    const end = state.dataTime === null ? undefined : new Date(state.dataTime * 1000).toISOString();
    data = await api(`/api/candles/${encodeURIComponent(symbol)}`, { query: { timeframe, limit: 500, end } });
  } catch (exc) {
    T("candles-note").textContent = `candles: ${exc.detail}`;
    return;
  }
  if (card.id !== state.selected) return;
  const rows = series(data.candles || [], (c) => ({
    open: num(c.open),
    high: num(c.high),
    low: num(c.low),
    close: num(c.close),
  }));
  bars.setData(rows);
  $("#candle-chart").dataset.candles = String(rows.length);
  T("candles-note").textContent = rows.length ? "" : "no candles for this symbol";
  state.candleTimes = rows.map((r) => r.time);
  const shown = state.candleShown || 0;
  if (rows.length && (state.candleKey !== key || shown < 150)) {
    // the newest ~150 bars (the replay's window grows from a few bars at its start)
    candles.timeScale().setVisibleLogicalRange({ from: Math.max(0, rows.length - 150), to: rows.length + 3 });
  }
  state.candleKey = key;
  state.candleShown = rows.length;
  renderMarkers();
  renderPriceLines();
}

/** Trade entries (▲ long / ▼ short) and exits (●) of the shown history page, on the bars. */
function renderMarkers() {
  const { bars } = state.charts;
  if (!bars) return;
  const card = selectedCard();
  const symbol = (card?.symbols || [])[0];
  const times = state.candleTimes || [];
  const snap = (iso) => {
    const t = Math.floor(new Date(iso).getTime() / 1000);
    if (!times.length || t < times[0] || t > times[times.length - 1] + 86400) return null;
    let lo = 0;
    let hi = times.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (times[mid] <= t) lo = mid;
      else hi = mid - 1;
    }
    return times[lo];
  };
  const markers = [];
  for (const trade of state.history.items) {
    if (symbol && trade.symbol !== symbol) continue;
    const long = trade.side !== "short";
    const entry = snap(trade.entry_time);
    const exit = snap(trade.exit_time);
    if (entry !== null) {
      markers.push({ time: entry, position: long ? "belowBar" : "aboveBar", color: cssVar("--accent"), shape: long ? "arrowUp" : "arrowDown", text: long ? "B" : "S" });
    }
    if (exit !== null) {
      const won = num(trade.pnl) >= 0;
      markers.push({ time: exit, position: long ? "aboveBar" : "belowBar", color: won ? cssVar("--up") : cssVar("--down"), shape: "circle", text: money(trade.pnl) });
    }
  }
  markers.sort((a, b) => a.time - b.time);
  bars.setMarkers(markers);
  $("#candle-chart").dataset.markers = String(markers.length);
}

function renderPriceLines() {
  const { bars } = state.charts;
  if (!bars) return;
  const wanted = state.positions.map((p) => `${p.side}|${p.entry_price}`).join(",");
  if (state.priceLineKey === wanted) return;
  state.priceLineKey = wanted;
  for (const line of state.charts.priceLines) bars.removePriceLine(line);
  state.charts.priceLines = state.positions
    .filter((p) => num(p.entry_price) !== null)
    .map((p) =>
      bars.createPriceLine({
        price: num(p.entry_price),
        color: cssVar("--accent"),
        lineWidth: 1,
        lineStyle: 2,
        axisLabelVisible: true,
        title: `${p.side} entry`,
      }),
    );
  $("#candle-chart").dataset.entryLines = String(state.charts.priceLines.length);
}

// -- positions -------------------------------------------------------------------------------
async function loadPositions() {
  const id = state.selected;
  if (!id) return;
  try {
    const data = await api(`/api/trading/positions/${encodeURIComponent(id)}`);
    if (id !== state.selected) return;
    state.positions = data.positions || [];
  } catch (exc) {
    toast(`positions: ${exc.detail}`, "error");
    return;
  }
  renderPositions();
  renderPriceLines();
}

/** The data clock of the selected deployment: its newest equity point, bar or closed trade. */
function dataClock() {
  const times = [state.dataTime, (state.candleTimes || []).at(-1)];
  for (const t of state.history.items || []) times.push(Math.floor(new Date(t.exit_time).getTime() / 1000));
  const known = times.filter((t) => Number.isFinite(t));
  return known.length ? Math.max(...known) : null;
}

/** A position's age. The API counts from the wall clock; a replay's position opened at a data
 * time (years ago, or hours ahead at 1000x): then count on the replay's own clock. */
function heldFor(p) {
  const card = selectedCard();
  const wall = num(p.duration_s);
  const opened = p.opened_at ? new Date(p.opened_at).getTime() / 1000 : null;
  if (wall !== null && card && wall <= num(card.uptime_s) + 5) return wall;
  const clock = dataClock();
  if (opened === null || clock === null) return wall;
  return Math.max(0, clock - opened);
}

function renderPositions() {
  const card = selectedCard();
  const closable = isAdmin() && card && running(card);
  const rows = state.positions.map((p) =>
    h(
      "tr",
      { testid: "position-row", dataset: { symbol: p.symbol, side: p.side } },
      h("td", {}, p.symbol),
      h("td", {}, h("span", { class: `side side-${p.side}` }, String(p.side || "").toUpperCase())),
      h("td", { class: "num" }, price(p.entry_price)),
      h("td", { class: "num" }, price(p.current_price)),
      h("td", { class: "num" }, qty(p.quantity)),
      h("td", { class: "num", dataset: { tone: tone(p.unrealized_pnl) } }, `${money(p.unrealized_pnl)} (${pct(p.unrealized_pnl_pct)})`),
      h("td", { class: "num", title: "how long it has been open" }, duration(heldFor(p))),
      h("td", {}, closable ? h("button", { type: "button", class: "ghost small", testid: "position-close", onclick: () => closePosition(p) }, "Close") : ""),
    ),
  );
  $("#positions-body").replaceChildren(...rows);
  T("positions-empty").hidden = rows.length > 0;
}

/** Close one position at market (a reduce-only order; its trade's reason is ``manual``). */
async function closePosition(p) {
  const id = state.selected;
  await confirmDialog({
    title: `Close ${p.symbol} ${String(p.side).toUpperCase()}?`,
    message: `Sends a market order for ${qty(p.quantity)} ${p.symbol} (${p.strategy}); the strategy may enter again on its next signal.`,
    reason: "optional",
    reasonDefault: "closed from the dashboard",
    ok: "Close position",
    action: async (reason) => {
      const body = { symbol: p.symbol, strategy: p.strategy, side: p.side, reason };
      const got = await api(`/api/trading/positions/${encodeURIComponent(id)}/close`, { method: "POST", body });
      toast(got.outcome, got.success ? "ok" : "error");
      loadPositions();
    },
  });
}

// -- history ---------------------------------------------------------------------------------
async function loadHistory(page) {
  const id = state.selected;
  if (!id) return;
  const query = { page: Math.max(1, page || 1), per_page: PER_PAGE, reason: state.filters.reason, symbol: state.filters.symbol };
  let data;
  try {
    data = await api(`/api/trading/history/${encodeURIComponent(id)}`, { query });
  } catch (exc) {
    toast(`history: ${exc.detail}`, "error");
    return;
  }
  if (id !== state.selected) return;
  if (data.page > data.pages && data.pages >= 1 && data.total > 0) {
    loadHistory(data.pages);
    return;
  }
  state.history = data;
  renderHistory();
  renderMarkers();
}

function renderHistory() {
  const { items, page, pages, total } = state.history;
  const rows = items.map((t) =>
    h(
      "tr",
      { testid: "history-row", dataset: { reason: t.reason, symbol: t.symbol } },
      h("td", {}, when(t.exit_time)),
      h("td", {}, t.symbol),
      h("td", {}, h("span", { class: `side side-${t.side}` }, String(t.side || "").toUpperCase())),
      h("td", { class: "num" }, price(t.entry_price)),
      h("td", { class: "num" }, price(t.exit_price)),
      h("td", { class: "num" }, qty(t.quantity)),
      h("td", { class: "num", dataset: { tone: tone(t.pnl) } }, `${money(t.pnl)} (${pct(t.pnl_pct)})`),
      h("td", {}, h("span", { class: `reason reason-${t.reason}`, testid: "history-reason" }, t.reason.replace(/_/g, " "))),
    ),
  );
  $("#history-body").replaceChildren(...rows);
  T("history-empty").hidden = rows.length > 0;
  T("history-total").textContent = total ? `(${total})` : "";
  T("history-page").textContent = `page ${page} of ${pages}`;
  $("#history-prev").disabled = page <= 1;
  $("#history-next").disabled = page >= pages;
}

// -- safety ----------------------------------------------------------------------------------
async function loadSafety() {
  const id = state.selected;
  if (!id) return renderSafety(null);
  try {
    const data = await api("/api/trading-safety/status", { query: { deployment_id: id } });
    if (id !== state.selected) return;
    state.safety = data;
    renderSafety(data);
  } catch (exc) {
    renderSafety(null, exc.detail);
  }
}

function renderSafety(s, problem) {
  const box = T("kill-switch-state");
  const note = T("safety-note");
  showError(note, problem || "");
  const reset = $("#reset-kill-switch");
  if (!s) {
    box.dataset.state = "unknown";
    T("kill-switch-text").textContent = "—";
    T("kill-switch-reason").textContent = "";
    if (reset) reset.hidden = true;
    return;
  }
  const active = Boolean(s.kill_switch_active);
  box.dataset.state = active ? "active" : "clear";
  T("kill-switch-text").textContent = active ? "KILL SWITCH ACTIVE: trading halted" : "Kill switch clear";
  T("kill-switch-reason").textContent = active ? s.kill_switch_reason || "" : "";
  if (reset) reset.hidden = !active;
  const cfg = s.configuration || {};
  const card = selectedCard();
  const daily = num(s.daily_pnl) ?? 0;
  const equity = num(card?.equity) || num(card?.initial_equity) || 0;
  const base = equity ? equity - daily : 0; // the day's starting equity
  const limit = num(cfg.daily_loss_limit_pct);
  const loss = daily < 0 && base > 0 ? -daily / base : 0;
  const used = limit ? loss / limit : 0;
  const level = used >= 1 ? "breach" : used >= 0.8 ? "warn" : "ok";
  const meter = T("safety-daily-meter");
  meter.dataset.level = level;
  meter.title = `${(used * 100).toFixed(0)}% of the daily loss limit used`;
  $("#daily-meter-fill").style.width = `${Math.min(100, used * 100).toFixed(1)}%`;
  const dailyText = T("safety-daily");
  dailyText.dataset.level = level;
  dailyText.textContent =
    limit && base > 0
      ? `${money(daily)} of −${money(limit * base, { sign: false })} (${(used * 100).toFixed(0)}% used)`
      : money(daily);
  const losses = T("safety-losses");
  const maxLosses = num(cfg.max_consecutive_losses);
  losses.textContent = maxLosses ? `${s.consecutive_losses} of ${maxLosses}` : String(s.consecutive_losses ?? "—");
  losses.dataset.level = maxLosses && s.consecutive_losses >= maxLosses * 0.8 ? "warn" : "ok";
  T("safety-trades-today").textContent = String(s.trades_today ?? "—");
  T("limit-position").textContent = pct(cfg.max_position_size_pct, { sign: false });
  T("limit-daily").textContent = pct(cfg.daily_loss_limit_pct, { sign: false });
  T("limit-balance").textContent = money(cfg.min_account_balance, { sign: false });
  T("limit-slippage").textContent = pct(cfg.max_slippage_pct, { sign: false });
  T("limit-heat").textContent = pct(cfg.max_portfolio_heat, { sign: false });
  T("safety-last-reset").textContent = when(s.last_reset);
}

async function resetKillSwitch() {
  const id = state.selected;
  if (!id) return;
  const card = state.cards.get(id);
  await confirmDialog({
    title: "Reset the kill switch?",
    message: `Trading may resume on ${card?.name || id}. Say why: the reason is journaled with your name.`,
    reason: "required",
    ok: "Reset kill switch",
    tone: "warn",
    action: async (reason) => {
      const got = await api("/api/trading-safety/reset-kill-switch", {
        method: "POST",
        query: { admin_override: "true" },
        body: { reason, deployment_id: id },
      });
      toast(got.message || "kill switch reset");
      await loadSafety();
    },
  });
}

// -- emergency stop --------------------------------------------------------------------------
async function emergencyStop() {
  const names = [...state.cards.values()].filter(running).map((c) => c.name);
  await confirmDialog({
    title: "⚠ Emergency stop",
    message: `Cancels every order and closes every position of every running deployment (${names.join(", ") || "none"}), then ends them. Say why.`,
    reason: "required",
    ok: "EMERGENCY STOP",
    action: async (reason) => {
      const got = await api("/api/trading/emergency-stop", { method: "POST", body: { reason } });
      toast(`emergency stop: ${got.stopped.length} deployment(s) stopped`);
      reloadGrid();
      for (const id of got.stopped || []) untilStopped(id);
    },
  });
}

// -- confirm dialog --------------------------------------------------------------------------
/** A real in-page <dialog>: resolves true once ``action(reason)`` succeeded, false if cancelled;
 * an error from the action stays in the dialog. */
function confirmDialog({ title, message, reason = false, reasonDefault = "", ok = "Confirm", tone: kind = "danger", action }) {
  const dialog = $("#confirm-dialog");
  const form = $("#confirm-form");
  const input = $("#confirm-reason");
  const error = T("confirm-error");
  const okButton = $("#confirm-ok");
  T("confirm-title").textContent = title;
  T("confirm-message").textContent = message;
  input.value = reasonDefault;
  input.required = reason === "required";
  input.hidden = !reason;
  $("#confirm-reason-label").hidden = !reason;
  $("#confirm-reason-label").textContent = reason === "required" ? "Reason (required)" : "Reason";
  okButton.textContent = ok;
  okButton.className = kind;
  okButton.disabled = false;
  showError(error, "");
  return new Promise((resolve) => {
    const submit = async (event) => {
      event.preventDefault();
      const why = input.value.trim();
      if (reason === "required" && !why) {
        showError(error, "say why (it is journaled)");
        input.focus();
        return;
      }
      okButton.disabled = true;
      try {
        await action(why || reasonDefault);
        done(true);
      } catch (exc) {
        showError(error, exc instanceof ApiError ? exc.detail : String(exc));
        okButton.disabled = false;
      }
    };
    const closed = () => done(false);
    const done = (value) => {
      form.removeEventListener("submit", submit);
      dialog.removeEventListener("close", closed);
      if (dialog.open) dialog.close();
      resolve(value);
    };
    form.addEventListener("submit", submit);
    dialog.addEventListener("close", closed);
    dialog.showModal();
    (reason ? input : $("#confirm-cancel")).focus();
    if (reason) input.select();
  });
}

// -- deploy dialog ---------------------------------------------------------------------------
function setupDeployForm() {
  const form = $("#deploy-form");
  const dialog = $("#deploy-dialog");
  $("#deploy-cancel").addEventListener("click", () => dialog.close("cancel"));
  for (const radio of form.querySelectorAll("input[name=mode]")) {
    radio.addEventListener("change", syncMode);
  }
  $("#deploy-strategy").addEventListener("change", () => strategyChosen(true));
  $("#deploy-symbols").addEventListener("input", () => ($("#deploy-symbols").dataset.touched = "1"));
  form.addEventListener("submit", submitDeploy);
}

function syncMode() {
  const live = $("#deploy-form").elements.mode.value === "live";
  T("live-warning").hidden = !live;
  $("#deploy-account").required = live;
  $("#deploy-dialog").classList.toggle("live", live);
  $("#deploy-submit").textContent = live ? "⚠ Deploy with real money" : "Deploy strategy";
  $("#deploy-submit").className = live ? "danger" : "primary";
  if (live) $("#deploy-account").focus();
}

/** The deploy dialog; ``prefill`` (from the Hall of Fame: strategy, symbols, timeframe,
 * parameters) sets its fields, which the trader can still change before deploying. */
async function openDeploy(prefill = null) {
  state.deployFrom = prefill?.halloffame_id ?? null; // a Hall of Fame entry: its risk settings
  const dialog = $("#deploy-dialog");
  showError(T("deploy-error"), "");
  const submit = $("#deploy-submit");
  submit.disabled = !state.strategies; // until the strategies are known
  dialog.showModal();
  syncMode();
  const mode = $("#deploy-form").querySelector("input[name=mode]:checked");
  (mode || $("#deploy-strategy")).focus(); // the first field
  if (!state.strategies) {
    try {
      const data = await api("/api/strategies");
      state.strategies = data.strategies || [];
    } catch (exc) {
      showError(T("deploy-error"), `strategies: ${exc.detail}`);
      state.strategies = null;
      return;
    }
    submit.disabled = false;
    const select = $("#deploy-strategy");
    select.replaceChildren(
      ...state.strategies.map((s) => h("option", { value: s.name, dataset: { enabled: s.enabled ? "1" : "0" } }, s.enabled ? `${s.name} (configured)` : s.name)),
    );
    const preferred = state.strategies.find((s) => s.enabled) || state.strategies[0];
    if (preferred) select.value = preferred.name;
    strategyChosen(false);
  }
  if (prefill && prefill.strategy) applyPrefill(prefill);
}

function applyPrefill({ strategy, symbols, timeframe, parameters }) {
  $("#deploy-strategy").value = strategy;
  strategyChosen(true);
  if (symbols) {
    $("#deploy-symbols").value = symbols;
    $("#deploy-symbols").dataset.touched = "1";
  }
  if (timeframe) $("#deploy-timeframe").value = timeframe;
  for (const [key, value] of Object.entries(parameters || {})) {
    const input = $("#deploy-params").querySelector(`[name="param:${key}"]`);
    if (!input) continue;
    if (input.type === "checkbox") input.checked = Boolean(value);
    else input.value = String(value);
  }
}

function chosenStrategy() {
  return (state.strategies || []).find((s) => s.name === $("#deploy-strategy").value);
}

function strategyChosen(userChange) {
  const s = chosenStrategy();
  if (!s) return;
  const symbols = $("#deploy-symbols");
  if (!symbols.dataset.touched || !symbols.value) symbols.value = (s.symbols || []).join(", ") || "BTC/USDT";
  if ((s.timeframes || [])[0]) $("#deploy-timeframe").value = s.timeframes[0];
  const box = $("#deploy-params");
  box.replaceChildren(
    ...(s.parameters || []).map((p) => {
      const name = `param:${p.name}`;
      let input;
      if (p.choices) {
        input = h("select", { name }, p.choices.map((c) => h("option", { value: String(c) }, String(c))));
        input.value = String(p.value);
      } else if (typeof p.default === "boolean") {
        input = h("input", { type: "checkbox", name });
        input.checked = Boolean(p.value);
      } else if (typeof p.default === "number") {
        input = h("input", { type: "number", name, step: Number.isInteger(p.default) ? "1" : "any", min: p.min ?? undefined, max: p.max ?? undefined });
        input.value = String(p.value);
      } else {
        input = h("input", { name, spellcheck: "false" });
        input.value = String(p.value ?? "");
      }
      input.dataset.initial = input.type === "checkbox" ? String(input.checked) : input.value;
      input.dataset.kind = typeof p.default;
      input.dataset.testid = `param-${p.name}`;
      const bounds = p.min !== null && p.min !== undefined ? ` [${p.min}–${p.max ?? "∞"}]` : "";
      return h("label", { title: p.doc || "" }, `${p.name}${bounds}`, input);
    }),
  );
  if (userChange) showError(T("deploy-error"), "");
}

function deployBody() {
  const form = $("#deploy-form");
  const el = form.elements;
  const body = {
    mode: el.mode.value,
    strategy: el.strategy.value,
    symbols: el.symbols.value.split(",").map((s) => s.trim()).filter(Boolean),
    timeframe: el.timeframe.value || undefined,
    speed: el.speed.value.trim(),
    sl_tp_enabled: el.sl_tp_enabled.checked,
  };
  const capital = num(el.capital.value);
  if (capital !== null) body.capital = capital;
  if (el.name.value.trim()) body.name = el.name.value.trim();
  if (body.mode === "live") body.confirm_account = el.confirm_account.value.trim();
  const risk = {};
  for (const key of ["max_position_size", "max_daily_loss", "max_drawdown", "stop_loss_pct", "take_profit_pct"]) {
    const value = num(el[key].value);
    if (value !== null) risk[key] = value;
  }
  if (Object.keys(risk).length) body.risk_parameters = risk;
  const parameters = {};
  for (const input of $("#deploy-params").querySelectorAll("input, select")) {
    const now = input.type === "checkbox" ? String(input.checked) : input.value;
    if (now === input.dataset.initial) continue;
    const key = input.name.slice("param:".length);
    if (input.type === "checkbox") parameters[key] = input.checked;
    else if (input.dataset.kind === "number") parameters[key] = num(input.value);
    else parameters[key] = input.value;
  }
  if (Object.keys(parameters).length) body.parameters = parameters;
  if (state.deployFrom && body.strategy === "evolved") body.halloffame_id = state.deployFrom;
  return body;
}

async function submitDeploy(event) {
  event.preventDefault();
  const form = $("#deploy-form");
  const error = T("deploy-error");
  showError(error, "");
  if (!form.checkValidity()) {
    const bad = form.querySelector(":invalid");
    const tag = bad?.labels?.[0];
    const label = (tag?.contains(bad) ? tag.firstChild?.textContent : tag?.textContent)?.trim() || bad?.name || "a field";
    showError(error, `${label}: ${bad?.validationMessage || "invalid"}`);
    bad?.focus();
    return;
  }
  const body = deployBody();
  if (!body.symbols.length) {
    showError(error, "symbols: give at least one (BTC/USDT)");
    return;
  }
  const submit = $("#deploy-submit");
  submit.disabled = true;
  const label = submit.textContent;
  submit.textContent = "Deploying…";
  try {
    const got = await api("/api/trading/deploy", { method: "POST", body });
    $("#deploy-dialog").close("deployed");
    toast(got.message || `deployed ${got.name}`);
    // the grid may not list it on the very first read: look again for a few seconds
    for (let i = 0; i < 20 && !state.cards.has(got.deployment_id); i += 1) {
      await loadDeployments();
      if (!state.cards.has(got.deployment_id)) await new Promise((r) => setTimeout(r, 250));
    }
    select(got.deployment_id);
  } catch (exc) {
    const extra = (exc.errors || []).slice(1).map((e) => `${e.field}: ${e.message}`);
    showError(error, [exc.detail, ...extra].join("\n"));
  } finally {
    submit.disabled = false;
    submit.textContent = label;
  }
}

main();
