// The live wall: one tile per camera and the alerts panel, kept current by /events.
"use strict";

(() => {
  const { el, utc, ago, seconds, api, isSupervisor } = BWV;
  const cameras = new Map(); // camera id -> tile data (CameraStatus + thumbnail_url)
  const alerts = new Map(); // dedup key -> alert
  const tiles = new Map(); // camera id -> element
  const tilesBox = document.getElementById("tiles");
  const alertsBox = document.getElementById("alerts");
  let filter = "all";
  let query = "";

  // --- alerts per camera ------------------------------------------------------------
  function openAlertsOf(cameraId) {
    return [...alerts.values()].filter((a) => a.state === "raised" && a.camera_id === cameraId);
  }

  // --- tiles ------------------------------------------------------------------------------
  // A click on a live tile's picture opens the live player (watch.js); otherwise it opens the recording.
  function onThumbClick(ev, id) {
    const c = cameras.get(id);
    if (!c || !c.live || !c.current_recording || ev.ctrlKey || ev.metaKey || ev.shiftKey || ev.button !== 0) return;
    ev.preventDefault();
    BWV.watch.open(c);
  }

  function buildTile(id) {
    const img = el("img", { alt: `latest picture from ${id}`, loading: "lazy", hidden: true });
    const node = el("article", { class: "tile", dataset: { camera: id } },
      el("a", { class: "thumb", href: "#", onclick: (ev) => onThumbClick(ev, id) },
        img,
        el("span", { class: "no-picture", text: "no picture yet" }),
        el("span", { class: "badge state-badge" }),
        el("span", { class: "badge live" })),
      el("div", { class: "tile-body" },
        el("div", { class: "tile-title" },
          el("span", { class: "tile-camera", text: id }),
          el("span", { class: "tile-officer" })),
        el("div", { class: "tile-stats" },
          el("span", {}, "delay ", el("b", { class: "delay" })),
          el("span", {}, "last ", el("b", { class: "last" })),
          el("a", { class: "tile-recording", href: "#", hidden: true, text: "recording ›" })),
        el("div", { class: "tile-alert", hidden: true })));
    tiles.set(id, node);
    return node;
  }

  function updateTile(c) {
    const node = tiles.get(c.camera_id) || buildTile(c.camera_id);
    const open = openAlertsOf(c.camera_id);
    const worst = ["critical", "warning", "info"].find((s) => open.some((a) => a.severity === s));
    node.className = [
      "tile", `state-${c.state}`, c.live ? "live" : "offline",
      open.length ? `alerting alert-${worst}` : "", open.some((a) => !a.acknowledged_by) ? "unacked" : "",
    ].filter(Boolean).join(" ");
    node.dataset.state = c.state;
    node.dataset.live = String(c.live);
    const img = node.querySelector("img");
    if (c.thumbnail_url && img.dataset.thumbnail !== c.thumbnail_url) {
      img.dataset.thumbnail = c.thumbnail_url;
      img.src = c.thumbnail_url;
      img.hidden = false;
      node.querySelector(".no-picture").hidden = true;
    }
    const link = node.querySelector(".thumb");
    const recording = c.current_recording || (c.thumbnail_url ? c.thumbnail_url.split("/")[3] : null);
    link.href = recording ? `/recordings/${encodeURIComponent(recording)}` : "#";
    link.title = c.live && c.current_recording ? "Watch live" : "Open the recording";
    const recordingLink = node.querySelector(".tile-recording");
    recordingLink.href = link.href;
    recordingLink.hidden = !recording;
    const badge = node.querySelector(".state-badge");
    badge.className = `badge state-badge badge-${c.state}`;
    badge.textContent = c.state === "recording" ? "● REC" : c.state;
    const live = node.querySelector(".live");
    live.className = `badge live badge-${c.live ? "live" : "offline"}`;
    live.textContent = c.live ? "LIVE" : "OFFLINE";
    node.querySelector(".tile-officer").textContent = c.officer_id;
    node.querySelector(".delay").textContent = seconds(c.ingest_delay_seconds);
    node.querySelector(".last").textContent = ago(c.last_capture_end);
    const alertLine = node.querySelector(".tile-alert");
    alertLine.hidden = open.length === 0;
    alertLine.textContent = open.length ? `⚠ ${[...new Set(open.map((a) => a.kind))].join(", ")}` : "";
    return node;
  }

  function matches(c) {
    const q = query.trim().toLowerCase();
    if (q && !c.camera_id.toLowerCase().includes(q) && !c.officer_id.toLowerCase().includes(q)) return false;
    if (filter === "all") return true;
    if (filter === "offline") return !c.live;
    if (filter === "alerting") return openAlertsOf(c.camera_id).length > 0;
    return c.state === filter;
  }

  function renderTiles() {
    const sorted = [...cameras.values()].sort((a, b) => a.camera_id.localeCompare(b.camera_id));
    const shown = [];
    for (const c of sorted) {
      const node = updateTile(c);
      if (matches(c)) shown.push(node);
    }
    tilesBox.replaceChildren(...shown);
    document.getElementById("empty").hidden = shown.length > 0 || cameras.size === 0;
    const counts = { all: 0, recording: 0, silent: 0, idle: 0, offline: 0, alerting: 0 };
    for (const c of cameras.values()) {
      counts.all++;
      counts[c.state] = (counts[c.state] || 0) + 1;
      if (!c.live) counts.offline++;
      if (openAlertsOf(c.camera_id).length) counts.alerting++;
    }
    for (const [k, v] of Object.entries(counts)) {
      const n = document.querySelector(`[data-count="${k}"]`);
      if (n) n.textContent = v;
    }
  }

  // --- alerts ---------------------------------------------------------------------------------
  function alertNode(a) {
    const foot = el("div", { class: "alert-foot" },
      a.camera_id ? el("span", { class: "alert-camera", text: a.camera_id }) : null,
      a.recording_id ? el("a", { href: `/recordings/${encodeURIComponent(a.recording_id)}`, text: "recording" }) : null,
      a.sequence !== null && a.sequence !== undefined ? el("span", { text: `segment ${a.sequence}` }) : null);
    if (a.acknowledged_by) {
      foot.append(el("span", { class: "ack-by", text: `✓ acknowledged by ${a.acknowledged_by}` }));
    } else if (isSupervisor && a.state === "raised") {
      foot.append(el("button", { type: "button", class: "btn btn-small ack-button", text: "Acknowledge", onclick: () => acknowledge(a) }));
    }
    return el("li", {
      class: `alert sev-${a.severity}${a.acknowledged_by ? " acked" : ""}`,
      dataset: { key: a.dedup_key, kind: a.kind, camera: a.camera_id || "", state: a.state },
    },
      el("div", { class: "alert-head" },
        el("span", { class: "alert-sev", text: a.severity }),
        el("span", { class: "alert-kind", text: a.kind.replaceAll("_", " ") }),
        el("time", { class: "alert-time", datetime: a.at, title: utc(a.at), text: utc(a.at, false) })),
      el("div", { class: "alert-msg", text: a.message }),
      foot);
  }

  async function acknowledge(a) {
    const r = await api("POST", "/api/alerts/ack", { dedup_key: a.dedup_key, at: a.at, note: "" });
    if (r.ok) onAlert(r.data);
    else BWV.banner(r.data.error || `acknowledging failed (${r.status})`);
  }

  function renderAlerts() {
    const open = [...alerts.values()].filter((a) => a.state === "raised").sort((x, y) => y.at.localeCompare(x.at));
    const fading = [...alertsBox.querySelectorAll(".alert.cleared")];
    alertsBox.replaceChildren(...open.map(alertNode), ...fading);
    document.getElementById("alert-count").textContent = open.length;
    document.getElementById("no-alerts").hidden = open.length > 0 || fading.length > 0;
  }

  function onAlert(a) {
    if (a.state === "cleared") {
      const node = alertsBox.querySelector(`li[data-key="${CSS.escape(a.dedup_key)}"]`);
      alerts.delete(a.dedup_key);
      if (node) {
        node.dataset.state = "cleared";
        requestAnimationFrame(() => node.classList.add("cleared"));
        setTimeout(() => { node.remove(); renderAlerts(); }, 3200);
      }
    } else {
      alerts.set(a.dedup_key, a);
    }
    renderAlerts();
    renderTiles();
  }

  // --- controls -------------------------------------------------------------------------------
  document.getElementById("filters").addEventListener("click", (ev) => {
    const button = ev.target.closest("[data-filter]");
    if (!button) return;
    filter = button.dataset.filter;
    document.querySelectorAll("#filters .chip").forEach((b) => b.classList.toggle("active", b === button));
    renderTiles();
  });
  document.getElementById("search").addEventListener("input", (ev) => { query = ev.target.value; renderTiles(); });
  setInterval(() => { for (const c of cameras.values()) { const n = tiles.get(c.camera_id); if (n) n.querySelector(".last").textContent = ago(c.last_capture_end); } }, 1000);

  BWV.events({
    snapshot(data) {
      cameras.clear();
      alerts.clear();
      for (const c of data.cameras) cameras.set(c.camera_id, c);
      for (const a of data.alerts) alerts.set(a.dedup_key, a);
      renderAlerts();
      renderTiles();
      // /?watch=<camera> (the map's "Watch live") opens that camera's live player once it is known.
      const wanted = new URLSearchParams(location.search).get("watch");
      if (wanted && cameras.has(wanted) && !BWV.watch.camera) {
        history.replaceState(null, "", location.pathname);
        BWV.watch.open(cameras.get(wanted));
      }
    },
    camera(c) { cameras.set(c.camera_id, c); renderTiles(); BWV.watch.update(c); },
    camera_removed(d) { cameras.delete(d.camera_id); tiles.delete(d.camera_id); renderTiles(); },
    alert: onAlert,
  });
})();
