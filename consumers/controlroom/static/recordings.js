// Recording search: by camera, officer and time window (UTC); rows stay current via /events.
"use strict";

(() => {
  const { el, utc, seconds, api } = BWV;
  const form = document.getElementById("search-form");
  const body = document.querySelector("#results tbody");
  const note = document.getElementById("result-note");
  const rows = new Map(); // recording id -> row

  function retention(r) {
    if (r.legal_hold) return el("span", { class: "badge badge-hold", text: `hold · ${r.retention_category}` });
    return r.expires_at ? `${r.retention_category} · until ${utc(r.expires_at).slice(0, 10)}` : r.retention_category;
  }

  function row(r) {
    const href = `/recordings/${encodeURIComponent(r.recording_id)}`;
    return el("tr", { dataset: { recording: r.recording_id } },
      el("td", {}, el("a", { href }, r.thumbnail_url ? el("img", { src: r.thumbnail_url, alt: "", loading: "lazy" }) : el("div", { class: "no-thumb" }))),
      el("td", {}, el("a", { href, text: utc(r.start) })),
      el("td", { text: r.camera_id }),
      el("td", { text: r.officer_id }),
      el("td", { text: seconds(r.duration_seconds) }),
      el("td", { text: r.missing_sequences ? `${r.segment_count} (${r.missing_sequences} missing)` : String(r.segment_count) }),
      el("td", {}, el("span", { class: `badge badge-${r.state}`, text: r.state })),
      el("td", {}, retention(r)));
  }

  function params() {
    const data = new FormData(form);
    const p = new URLSearchParams();
    for (const name of ["camera", "officer"]) if (data.get(name)) p.set(name, data.get(name).trim());
    for (const name of ["since", "until"]) if (data.get(name)) p.set(name, BWV.localInputToIso(data.get(name)));
    return p;
  }

  async function search() {
    const p = params();
    history.replaceState(null, "", `/recordings${p.toString() ? "?" + p : ""}`);
    note.textContent = "Searching…";
    const r = await api("GET", `/api/recordings?${p}`);
    if (!r.ok) { note.textContent = r.data.error || `search failed (${r.status})`; return; }
    rows.clear();
    body.replaceChildren(...r.data.recordings.map((rec) => { const tr = row(rec); rows.set(rec.recording_id, tr); return tr; }));
    const { total, limit } = r.data;
    note.textContent = total === 0 ? "No recording matches." : total > limit ? `${total} recordings; the newest ${limit} shown.` : `${total} recording${total === 1 ? "" : "s"}, newest first.`;
  }

  // The URL's since/until are ISO UTC; the inputs want "YYYY-MM-DDTHH:MM:SS".
  for (const id of ["q-since", "q-until"]) {
    const input = document.getElementById(id);
    if (input.getAttribute("value")) input.value = input.getAttribute("value").replace(/Z$|[+-]00:00$/, "").slice(0, 19);
  }
  form.addEventListener("submit", (ev) => { ev.preventDefault(); search(); });
  form.addEventListener("reset", () => setTimeout(search, 0));
  search();

  BWV.events({
    recording(rec) {
      const old = rows.get(rec.recording_id);
      if (!old) return;
      const fresh = row(rec);
      old.replaceWith(fresh);
      rows.set(rec.recording_id, fresh);
    },
  });
})();
