// Shared by the dashboard and the orchestration page: the token (this tab's sessionStorage
// only), calls to /api with it, the sign-in form, the theme, formatting, a DOM helper, toasts.

const TOKEN_KEY = "genebot.token";
const THEME_KEY = "genebot.theme"; // a display preference: the only thing kept across tabs

export class ApiError extends Error {
  constructor(status, detail, errors) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.errors = errors || [];
  }
}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY);
}

export function signOut() {
  sessionStorage.removeItem(TOKEN_KEY);
  sessionStorage.removeItem("genebot.selected");
  location.reload();
}

let onUnauthorized = () => signOut();

export async function api(path, { method = "GET", body, query, auth } = {}) {
  const url = new URL(path, location.origin);
  for (const [k, v] of Object.entries(query || {})) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  const headers = { Accept: "application/json", Authorization: `Bearer ${auth ?? token() ?? ""}` };
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (exc) {
    throw new ApiError(0, `the server did not answer (${exc.message || exc})`);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = { detail: text.slice(0, 300) };
  }
  if (!response.ok) {
    const detail = describe(data?.detail) || `${response.status} ${response.statusText}`;
    const error = new ApiError(response.status, detail, data?.errors);
    if (response.status === 401 && auth === undefined) onUnauthorized(error);
    throw error;
  }
  return data;
}

function describe(detail) {
  if (detail === undefined || detail === null) return "";
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg || JSON.stringify(d)).join("; ");
  return JSON.stringify(detail);
}

// -- sign in ---------------------------------------------------------------------------------
/** Resolve with whoami ({name, role}) once a valid token is in this tab's sessionStorage. */
export async function signIn() {
  const saved = token();
  if (saved) {
    try {
      return await api("/api/whoami", { auth: saved });
    } catch (exc) {
      if (exc.status !== 401) throw exc;
      sessionStorage.removeItem(TOKEN_KEY);
    }
  }
  const view = document.getElementById("signin-view");
  const form = document.getElementById("signin-form");
  const input = document.getElementById("signin-token");
  const error = form.querySelector("[data-testid=signin-error]");
  view.hidden = false;
  input.focus();
  return new Promise((resolve) => {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const given = input.value.trim();
      error.hidden = true;
      if (!given) {
        showError(error, "paste a token");
        return;
      }
      try {
        const who = await api("/api/whoami", { auth: given });
        sessionStorage.setItem(TOKEN_KEY, given);
        input.value = "";
        view.hidden = true;
        resolve(who);
      } catch (exc) {
        showError(error, exc.status === 401 ? "that token is not valid" : exc.detail);
        input.select();
      }
    });
  });
}

/** The header once signed in: who, the sign-out button; viewers lose every control. */
export function signedIn(who) {
  const badge = document.querySelector("[data-testid=whoami]");
  badge.textContent = `${who.name} · ${who.role}`;
  badge.dataset.role = who.role;
  badge.hidden = false;
  const out = document.getElementById("sign-out");
  out.hidden = false;
  out.addEventListener("click", signOut);
  document.body.dataset.role = who.role;
  if (who.role !== "admin") {
    for (const el of document.querySelectorAll(".admin-only")) el.remove();
  }
}

export function showError(el, text) {
  el.textContent = text;
  el.hidden = !text;
}

// -- theme -----------------------------------------------------------------------------------
export function theme() {
  const chosen = document.documentElement.dataset.theme;
  if (chosen === "dark" || chosen === "light") return chosen;
  return matchMedia("(prefers-color-scheme: light)").matches ? "light" : "dark";
}

export function setupTheme() {
  const saved = localStorage.getItem(THEME_KEY);
  if (saved === "dark" || saved === "light") document.documentElement.dataset.theme = saved;
  const button = document.getElementById("theme-toggle");
  const label = () => {
    button.textContent = theme() === "dark" ? "☀ light" : "☾ dark";
    button.setAttribute("aria-label", `switch to ${theme() === "dark" ? "light" : "dark"} theme`);
  };
  label();
  button.addEventListener("click", () => {
    const next = theme() === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    localStorage.setItem(THEME_KEY, next);
    label();
    window.dispatchEvent(new CustomEvent("themechange"));
  });
  matchMedia("(prefers-color-scheme: light)").addEventListener("change", () => {
    label();
    window.dispatchEvent(new CustomEvent("themechange"));
  });
}

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

export function chartColors() {
  return {
    layout: {
      background: { type: "solid", color: cssVar("--panel") },
      textColor: cssVar("--muted"),
      fontFamily: "system-ui, sans-serif",
      attributionLogo: false, // its injected <style> breaks the CSP: the page footer credits TradingView
    },
    grid: { vertLines: { color: cssVar("--grid") }, horzLines: { color: cssVar("--grid") } },
    rightPriceScale: { borderColor: cssVar("--border") },
    timeScale: { borderColor: cssVar("--border") },
  };
}

// -- formatting ------------------------------------------------------------------------------
export function num(value) {
  if (value === null || value === undefined || value === "") return null;
  const n = typeof value === "number" ? value : Number(value);
  return Number.isFinite(n) ? n : null;
}

const money2 = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export function money(value, { sign = true } = {}) {
  const n = num(value);
  if (n === null) return "—";
  const text = money2.format(Math.abs(n));
  if (!sign) return n < 0 ? `−${text}` : text;
  return n > 0 ? `+${text}` : n < 0 ? `−${text}` : text;
}

export function pct(value, { sign = true, digits = 2 } = {}) {
  const n = num(value);
  if (n === null) return "—";
  const text = `${Math.abs(n * 100).toFixed(digits)}%`;
  if (!sign) return n < 0 ? `−${text}` : text;
  return n > 0 ? `+${text}` : n < 0 ? `−${text}` : text;
}

export function price(value) {
  const n = num(value);
  if (n === null) return "—";
  const digits = Math.abs(n) >= 100 ? 2 : Math.abs(n) >= 1 ? 4 : 8;
  return n.toLocaleString("en-US", { minimumFractionDigits: Math.min(2, digits), maximumFractionDigits: digits });
}

export function qty(value) {
  const n = num(value);
  if (n === null) return "—";
  return n.toLocaleString("en-US", { maximumFractionDigits: 8 });
}

export function duration(seconds) {
  const s = num(seconds);
  if (s === null) return "—";
  const total = Math.max(0, Math.floor(s));
  const d = Math.floor(total / 86400);
  const h = Math.floor((total % 86400) / 3600);
  const m = Math.floor((total % 3600) / 60);
  const sec = total % 60;
  if (d) return `${d}d ${h}h`;
  if (h) return `${h}h ${m}m`;
  if (m) return `${m}m ${sec}s`;
  return `${sec}s`;
}

export function when(iso) {
  if (!iso) return "—";
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) return String(iso);
  return t.toISOString().slice(0, 16).replace("T", " ");
}

export function tone(value) {
  const n = num(value);
  return n === null || n === 0 ? "flat" : n > 0 ? "up" : "down";
}

// -- DOM -------------------------------------------------------------------------------------
/** h("tr", {class: "x", dataset: {id}}, h("td", {}, "text")): text is never parsed as HTML. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "testid") el.dataset.testid = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "text") el.textContent = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function toast(text, kind = "ok") {
  const box = document.getElementById("toasts");
  if (!box) return;
  const item = h("div", { class: `toast ${kind}`, testid: "toast", role: kind === "error" ? "alert" : "status", dataset: { kind } }, text);
  box.append(item);
  setTimeout(() => item.remove(), kind === "error" ? 10000 : 6000);
}

export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** At most one call per ``ms`` (the last arguments win), trailing call guaranteed. */
export function throttle(fn, ms) {
  let last = 0;
  let timer = null;
  return (...args) => {
    const wait = last + ms - Date.now();
    clearTimeout(timer);
    if (wait <= 0) {
      last = Date.now();
      fn(...args);
    } else {
      timer = setTimeout(() => {
        last = Date.now();
        fn(...args);
      }, wait);
    }
  };
}

/** The live event stream: auth first, resume from the last id seen, reconnect with backoff. */
export class EventStream {
  constructor({ onHello, onMessage, onState }) {
    this.onHello = onHello;
    this.onMessage = onMessage;
    this.onState = onState;
    this.lastId = null;
    this.attempt = 0;
    this.connections = 0;
    this.closed = false;
    this.ws = null;
  }

  connect() {
    if (this.closed) return;
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const ws = new WebSocket(`${scheme}://${location.host}/api/ws`);
    this.ws = ws;
    this.onState(this.connections ? "reconnecting" : "connecting");
    ws.addEventListener("open", () => {
      const auth = { type: "auth", token: token() };
      if (this.lastId !== null) auth.since = this.lastId; // what we missed is replayed
      ws.send(JSON.stringify(auth));
    });
    ws.addEventListener("message", (event) => {
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (message.type === "hello") {
        const again = this.connections > 0;
        this.connections += 1;
        this.attempt = 0;
        if (this.lastId === null) this.lastId = message.last_id ?? 0;
        this.onState("live");
        this.onHello(message, again);
        return;
      }
      if (message.type === "event" && typeof message.id === "number") {
        this.lastId = Math.max(this.lastId ?? 0, message.id);
      }
      this.onMessage(message);
    });
    ws.addEventListener("close", (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      if (event.code === 4401) {
        onUnauthorized();
        return;
      }
      if (this.closed) return;
      this.onState("reconnecting");
      const delay = Math.min(15000, 500 * 2 ** this.attempt) * (0.75 + Math.random() * 0.5);
      this.attempt = Math.min(this.attempt + 1, 6);
      setTimeout(() => this.connect(), delay);
    });
  }

  close() {
    this.closed = true;
    if (this.ws) this.ws.close();
  }
}

export function connectionBadge(state) {
  const el = document.querySelector("[data-testid=connection]");
  if (!el) return;
  el.dataset.state = state;
  el.textContent = { live: "● live", connecting: "connecting…", reconnecting: "reconnecting…" }[state] || state;
}
