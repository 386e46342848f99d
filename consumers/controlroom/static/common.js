// Shared by every page: the event stream, JSON calls, formatting, DOM building.
// Data is only ever put in the page with textContent / attributes, never as HTML.
"use strict";

const BWV = (() => {
  const role = document.body.dataset.role;
  const user = document.body.dataset.user;

  function toLogin() {
    const next = encodeURIComponent(location.pathname + location.search);
    location.assign(`/login?next=${next}`);
  }

  async function api(method, url, body) {
    const options = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    const response = await fetch(url, options);
    if (response.status === 401) {
      toLogin();
      throw new Error("not logged in");
    }
    let data = {};
    try { data = await response.json(); } catch (e) { /* empty body */ }
    return { status: response.status, ok: response.ok, data };
  }

  // One EventSource per page; handlers: {eventName: fn(data)}.
  function events(handlers) {
    const conn = document.getElementById("conn");
    const source = new EventSource("/events");
    const setConn = (cls, text) => { if (conn) { conn.className = `conn ${cls}`; conn.textContent = text; } };
    source.onopen = () => setConn("on", "live");
    source.onerror = async () => {
      setConn("off", "reconnecting…");
      try {
        const r = await fetch("/api/me", { credentials: "same-origin" });
        if (r.status === 401) { source.close(); toLogin(); }
      } catch (e) { /* server away: EventSource retries by itself */ }
    };
    const names = new Set([...Object.keys(handlers), "status", "session_ended"]);
    for (const name of names) {
      source.addEventListener(name, (ev) => {
        const data = JSON.parse(ev.data);
        if (name === "session_ended") { source.close(); toLogin(); return; }
        if (name === "status" || (name === "snapshot" && "error" in data)) banner(data.error);
        if (handlers[name]) handlers[name](data);
      });
    }
    return source;
  }

  function banner(message) {
    const el = document.getElementById("banner");
    if (!el) return;
    el.hidden = !message;
    el.textContent = message || "";
  }

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs)) {
      if (v === null || v === undefined || v === false) continue;
      if (k === "class") node.className = v;
      else if (k === "text") node.textContent = v;
      else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
      else if (k === "dataset") Object.assign(node.dataset, v);
      else node.setAttribute(k, v === true ? "" : v);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return node;
  }

  const pad = (n) => String(n).padStart(2, "0");
  function utc(iso, withDate = true) {
    if (!iso) return "–";
    const d = new Date(iso);
    const time = `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}`;
    return withDate ? `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${time}` : time;
  }
  function ago(iso) {
    if (!iso) return "never";
    const s = Math.max(0, (Date.now() - new Date(iso).getTime()) / 1000);
    if (s < 60) return `${Math.round(s)} s ago`;
    if (s < 3600) return `${Math.round(s / 60)} min ago`;
    if (s < 86400) return `${Math.round(s / 3600)} h ago`;
    return `${Math.round(s / 86400)} d ago`;
  }
  function seconds(value) {
    if (value === null || value === undefined) return "–";
    if (value < 10) return `${value.toFixed(1)} s`;
    if (value < 3600) return `${Math.floor(value / 60)}:${pad(Math.floor(value % 60))}`;
    return `${Math.floor(value / 3600)}:${pad(Math.floor((value % 3600) / 60))}:${pad(Math.floor(value % 60))}`;
  }
  function bytes(n) {
    if (n === null || n === undefined) return "–";
    const units = ["B", "kB", "MB", "GB", "TB"];
    let i = 0;
    while (n >= 1000 && i < units.length - 1) { n /= 1000; i++; }
    return `${n.toFixed(i ? 1 : 0)} ${units[i]}`;
  }
  // datetime-local value (no zone) <-> ISO UTC
  function localInputToIso(value) { return value ? `${value.length === 16 ? value + ":00" : value}Z` : ""; }

  return { role, user, isSupervisor: role === "supervisor", api, events, banner, el, utc, ago, seconds, bytes, localInputToIso, toLogin };
})();
