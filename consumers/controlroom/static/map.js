// The map: one marker per camera that says where it is, in its state's colour, kept current by /events.
"use strict";

(() => {
  const { el, ago, utc } = BWV;
  const map = BWV.maps.create(document.getElementById("map"), { zoomControl: true });
  map.setView([20, 0], 2);
  const cameras = new Map(); // camera id -> tile data (CameraStatus)
  const markers = new Map(); // camera id -> L.Marker
  // The view follows the fleet (every marker in sight) until the operator moves or zooms it.
  let follow = true;
  let fitting = false;
  map.on("dragstart", () => { follow = false; });
  map.on("zoomstart", () => { if (!fitting) follow = false; });

  function popup(c) {
    const where = c.location;
    return el("div", { class: "cam-popup" },
      el("strong", { text: c.camera_id }), " ", el("span", { class: "muted", text: c.officer_id }),
      el("div", { text: `${BWV.maps.stateOf(c)} · last footage ${ago(c.last_capture_end)}` }),
      where ? el("div", { class: "muted small", text: `${where.lat.toFixed(5)}, ${where.lon.toFixed(5)} ±${Math.round(where.accuracy_m)} m at ${utc(where.at, false)} UTC` }) : null,
      el("div", { class: "cam-popup-links" },
        c.live && c.current_recording ? el("a", { href: `/?watch=${encodeURIComponent(c.camera_id)}`, text: "▶ Watch live" }) : null,
        c.current_recording ? el("a", { href: `/recordings/${encodeURIComponent(c.current_recording)}`, text: "Recording" }) : null));
  }

  function place(c) {
    const marker = markers.get(c.camera_id);
    if (!c.location) {
      if (marker) { marker.remove(); markers.delete(c.camera_id); }
      return;
    }
    const at = [c.location.lat, c.location.lon];
    if (marker) {
      marker.setLatLng(at);
      marker.setIcon(BWV.maps.cameraIcon(c));
      marker.setPopupContent(popup(c));
    } else {
      markers.set(c.camera_id, L.marker(at, { icon: BWV.maps.cameraIcon(c), title: c.camera_id, keyboard: true })
        .bindPopup(popup(c)).addTo(map));
    }
  }

  function fit(always = false) {
    if (!follow || markers.size === 0) return;
    const points = [...markers.values()].map((m) => m.getLatLng());
    if (!always && points.every((p) => map.getBounds().contains(p))) return;
    fitting = true;
    map.fitBounds(L.latLngBounds(points).pad(0.3), { maxZoom: 17, animate: false });
    fitting = false;
  }

  function list() {
    const sorted = [...cameras.values()].sort((a, b) => a.camera_id.localeCompare(b.camera_id));
    document.getElementById("map-cameras").replaceChildren(...sorted.map((c) => el("li", {
      class: `map-camera cam-${BWV.maps.stateOf(c)}`, dataset: { camera: c.camera_id },
      onclick: () => { const m = markers.get(c.camera_id); if (m) { follow = false; map.setView(m.getLatLng(), Math.max(map.getZoom(), 16)); m.openPopup(); } },
    },
      el("span", { class: "cam-dot" }),
      el("span", { class: "map-camera-id", text: c.camera_id }),
      el("span", { class: "muted", text: c.location ? ago(c.location.at) : "no location" }))));
    document.getElementById("map-count").textContent = cameras.size;
    document.getElementById("map-empty").hidden = cameras.size > 0;
    const unplaced = sorted.filter((c) => !c.location).length;
    const note = document.getElementById("map-unplaced");
    note.hidden = unplaced === 0;
    note.textContent = `${unplaced} camera${unplaced === 1 ? "" : "s"} without a location (not on the map).`;
  }

  function onCamera(c) {
    cameras.set(c.camera_id, c);
    place(c);
    list();
    fit();
  }

  BWV.events({
    snapshot(data) {
      cameras.clear();
      for (const m of markers.values()) m.remove();
      markers.clear();
      for (const c of data.cameras) { cameras.set(c.camera_id, c); place(c); }
      list();
      fit(true);
    },
    camera: onCamera,
    camera_removed(d) {
      cameras.delete(d.camera_id);
      const m = markers.get(d.camera_id);
      if (m) { m.remove(); markers.delete(d.camera_id); }
      list();
    },
  });
})();
