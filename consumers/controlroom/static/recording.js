// One recording: player, thumbnails, route, details, integrity, retention, and the supervisor's actions.
"use strict";

(() => {
  const { el, utc, seconds, bytes, api, isSupervisor } = BWV;
  const id = document.getElementById("recording").dataset.recordingId;
  const player = document.getElementById("player");
  const result = document.getElementById("action-result");
  let summary = null;

  function facts(box, pairs) {
    box.replaceChildren(...pairs.flatMap(([k, v]) => [el("dt", { text: k }), el("dd", { dataset: { fact: k } }, v ?? "–")]));
  }

  function render(r) {
    summary = r;
    const state = document.getElementById("rec-state");
    state.className = `badge badge-${r.state}`;
    state.textContent = r.state;
    document.getElementById("rec-hold").hidden = !r.legal_hold;
    const segments = [String(r.segment_count)];
    if (r.segments_sent !== null && r.segments_sent !== undefined) segments.push(`of ${r.segments_sent} sent`);
    if (r.missing_sequences) segments.push(`${r.missing_sequences} missing`);
    if (r.quarantined_segments) segments.push(`${r.quarantined_segments} quarantined`);
    facts(document.getElementById("facts"), [
      ["Camera", r.camera_id],
      ["Officer", r.officer_id],
      ["Start (UTC)", utc(r.start)],
      ["End (UTC)", utc(r.end)],
      ["Duration", seconds(r.duration_seconds)],
      ["Segments", segments.join(", ")],
      ["Size", bytes(r.bytes)],
      ["State", r.closed_reason ? `${r.state} (${r.closed_reason.replaceAll("_", " ")})` : r.state],
      ["Chain head", r.chain_head ? el("code", { title: r.chain_head, text: `${r.chain_head.slice(0, 20)}…` }) : "–"],
    ]);
    const kept = r.legal_hold || r.expires_at === null || r.expires_at === undefined;
    facts(document.getElementById("retention"), [
      ["Category", r.retention_category],
      ["Expires", kept ? "kept until released" : utc(r.expires_at)],
      ["Legal hold", r.legal_hold ? el("span", { class: "badge badge-hold", text: "on" }) : "off"],
      ["Marked by", r.marked_by],
      ["Reason", r.marked_reason],
      ["When", r.marked_at ? utc(r.marked_at) : null],
    ]);
    const marked = r.retention_category !== "unmarked";
    document.getElementById("mark-form").hidden = marked || r.state === "deleted";
    document.getElementById("release-form").hidden = !marked || r.state === "deleted";
  }

  // A segment's start in the MP4 is estimated from the average segment length (keyframe-aligned cuts vary a little).
  const perSegment = () => (summary && summary.segment_count ? summary.duration_seconds / summary.segment_count : 2);

  // Pictures the worker did not cut as the segment was stored are cut when asked for; one without a picture says so.
  const noThumb = () => el("div", { class: "no-thumb", text: "no picture" });
  function noPicture(ev) { ev.target.replaceWith(noThumb()); }

  function figure(s) {
    return el("figure", {
      dataset: { sequence: s.sequence },
      title: `segment ${s.sequence}`,
      onclick: () => playFrom(s.sequence),
    },
      s.thumbnail_url ? el("img", { src: s.thumbnail_url, alt: `segment ${s.sequence}`, loading: "lazy", onerror: noPicture }) : noThumb(),
      el("figcaption", { text: `#${s.sequence}` }));
  }

  function stripNote() {
    const n = document.querySelectorAll("#strip figure").length;
    document.getElementById("strip-note").textContent = `${n} stored segment${n === 1 ? "" : "s"}`;
  }

  function strip(segments) {
    document.getElementById("strip").replaceChildren(...segments.map(figure));
    stripNote();
  }

  // An open recording grows: its newest thumbnail joins the strip as it arrives.
  function grow(r) {
    if (!r.thumbnail_url) return;
    const sequence = Number(r.thumbnail_url.split("/").pop().split(".")[0]);
    const box = document.getElementById("strip");
    if (box.querySelector(`figure[data-sequence="${sequence}"]`)) return;
    const last = box.lastElementChild;
    if (last && Number(last.dataset.sequence) > sequence) return;
    box.append(figure({ sequence, thumbnail_url: r.thumbnail_url }));
    stripNote();
  }

  const videoUrl = () => `/media/recordings/${encodeURIComponent(id)}/video.mp4`;

  // --- the player: the whole recording's HLS playlist (player.js); the remuxed MP4 where MSE is missing ---
  const hlsPlayable = Boolean(window.Hls && Hls.isSupported());
  const playButton = document.getElementById("play-button");
  let hlsPlayer = null;
  let pendingSeek = null;

  function playerError(message) {
    const box = document.getElementById("player-error");
    box.hidden = !message;
    box.textContent = message || "";
  }

  function startPlayer() {
    playButton.hidden = true;
    if (!hlsPlayable) {
      if (!player.src) player.src = videoUrl();
      return;
    }
    if (hlsPlayer) return;
    hlsPlayer = BWV.Player.create(player, {
      recordingId: id,
      live: false,
      onError: playerError,
      onStats: () => { if (pendingSeek !== null && hlsPlayer.seekToSequence(pendingSeek)) pendingSeek = null; },
    });
    BWV.recordingPlayer = hlsPlayer;
  }

  function playFrom(sequence) {
    if (!hlsPlayable) {
      if (!player.src) player.src = videoUrl();
      player.currentTime = sequence * perSegment();
      player.play();
      return;
    }
    startPlayer();
    if (!hlsPlayer.seekToSequence(sequence)) pendingSeek = sequence;
  }

  playButton.addEventListener("click", startPlayer);
  player.addEventListener("play", () => { if (hlsPlayable && !hlsPlayer) startPlayer(); });

  // --- the route: where the camera was, segment by segment ------------------------------------
  let routeMap = null;
  let routeLine = null;
  let routeEnds = null;
  let routeFetched = 0;

  async function route() {
    routeFetched = Date.now();
    const r = await api("GET", `/api/recordings/${encodeURIComponent(id)}/route`);
    if (!r.ok || !r.data.points.length) return;
    const card = document.getElementById("route-card");
    card.hidden = false;
    if (!routeMap) routeMap = BWV.maps.create(document.getElementById("route-map"), { scrollWheelZoom: false });
    const points = r.data.points.map((p) => [p.lat, p.lon]);
    if (routeLine) routeLine.setLatLngs(points);
    else routeLine = L.polyline(points, { color: "#4da3ff", weight: 4, opacity: 0.9, className: "route-line" }).addTo(routeMap);
    if (routeEnds) routeEnds.remove();
    routeEnds = L.layerGroup([
      L.circleMarker(points[0], { radius: 6, color: "#2fbf71", fillOpacity: 1, className: "route-start" }).bindTooltip(`start ${utc(r.data.points[0].at, false)}`),
      L.circleMarker(points[points.length - 1], { radius: 6, color: "#ff4d5e", fillOpacity: 1, className: "route-end" })
        .bindTooltip(`${summary && summary.state === "open" ? "latest" : "end"} ${utc(r.data.points[points.length - 1].at, false)}`),
    ]).addTo(routeMap);
    routeMap.fitBounds(routeLine.getBounds().pad(0.25), { maxZoom: 18 });
    const note = document.getElementById("route-note");
    note.textContent = `${r.data.points.length} of ${r.data.segments} segments located`;
    document.getElementById("route-map").dataset.points = String(r.data.points.length);
  }

  async function load() {
    const r = await api("GET", `/api/recordings/${encodeURIComponent(id)}`);
    if (!r.ok) { result.className = "action-result err"; result.textContent = r.data.error || `cannot load (${r.status})`; return; }
    render(r.data.recording);
    strip(r.data.segments);
    if (r.data.recording.thumbnail_url || (r.data.segments[0] && r.data.segments[0].thumbnail_url)) {
      player.poster = (r.data.segments[0] && r.data.segments[0].thumbnail_url) || r.data.recording.thumbnail_url;
    }
    if (r.data.segments.length) {
      if (hlsPlayable) playButton.hidden = false;
      else player.src = videoUrl();
    }
    verify();
    route();
  }

  async function verify() {
    const box = document.getElementById("integrity");
    box.className = "integrity integrity-pending";
    box.textContent = "Verifying every stored segment and the hash chain…";
    const r = await api("GET", `/api/recordings/${encodeURIComponent(id)}/integrity`);
    const d = r.data;
    box.dataset.state = d.state || "error";
    if (r.ok && d.ok) {
      box.className = "integrity integrity-ok";
      box.replaceChildren(el("strong", { text: "✓ Verified" }),
        `${d.segments} segments, ${bytes(d.bytes)}, ${seconds(d.seconds)}: every SHA-256 and the hash chain check out`,
        d.chain_head_matches_index ? "; the chain head matches the index" : "",
        d.sealed ? `; sealed by key ${d.sealed.key_id} (${d.sealed.segment_count} segments).` : "; not sealed yet (recording open).");
    } else if (r.ok && d.problem) {
      box.className = "integrity integrity-bad";
      box.replaceChildren(el("strong", { text: `✗ ${d.problem.kind.replaceAll("_", " ")} at segment ${d.problem.sequence}` }), d.problem.detail);
    } else {
      box.className = "integrity integrity-bad";
      box.replaceChildren(el("strong", { text: "✗ Not verified" }), d.summary || d.error || `verification failed (${r.status})`);
    }
  }

  async function act(action, body, button) {
    button.disabled = true;
    result.className = "action-result wait";
    result.textContent = "Sent; waiting for a worker to apply it…";
    try {
      const r = await api("POST", `/api/recordings/${encodeURIComponent(id)}/${action}`, body);
      if (r.status === 200) {
        result.className = "action-result ok";
        result.textContent = action === "mark" ? `Marked as evidence (${r.data.recording.retention_category}).` : "Released: normal retention applies again.";
        render(r.data.recording);
      } else if (r.status === 202) {
        result.className = "action-result wait";
        result.textContent = r.data.message;
      } else {
        result.className = "action-result err";
        result.textContent = r.data.error || `refused (${r.status})`;
      }
    } finally {
      button.disabled = !isSupervisor;
    }
  }

  document.getElementById("mark-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("mark", { category: document.getElementById("mark-category").value, reason: document.getElementById("mark-reason").value }, document.getElementById("mark-button"));
  });
  document.getElementById("export-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const button = document.getElementById("export-button");
    button.disabled = true;
    result.className = "action-result wait";
    result.textContent = "Exporting: verifying, copying and remuxing the footage…";
    try {
      const r = await api("POST", `/api/recordings/${encodeURIComponent(id)}/export`, { reason: document.getElementById("export-reason").value });
      if (r.status === 200) {
        result.className = "action-result ok";
        const link = el("a", { text: "download the bundle", href: r.data.download });
        link.setAttribute("download", "");
        result.replaceChildren(`Exported ${r.data.segments} segments (${bytes(r.data.bytes)}, SHA-256 ${r.data.sha256.slice(0, 16)}…): `, link);
      } else {
        result.className = "action-result err";
        result.textContent = r.data.error || `refused (${r.status})`;
      }
    } finally {
      button.disabled = !isSupervisor;
    }
  });
  document.getElementById("release-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    act("release", { reason: document.getElementById("release-reason").value }, document.getElementById("release-button"));
  });
  if (!isSupervisor) {
    document.querySelectorAll("#actions textarea, #actions select, #actions button").forEach((n) => { n.disabled = true; });
  }

  BWV.events({
    recording(r) {
      if (r.recording_id !== id) return;
      render(r);
      grow(r);
      if (Date.now() - routeFetched > 10000) route(); // an open recording's route grows too
    },
  });
  load();
})();
