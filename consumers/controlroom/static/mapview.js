// Maps for the control room, on Leaflet (static/vendor/leaflet).
// Tiles come from BWV_MAP_TILE_URL (the page's data-map-tiles); without one a coordinate grid is drawn
// on canvas in the browser, so nothing is fetched from the internet.
"use strict";

BWV.maps = (() => {
  const { el } = BWV;
  const tileUrl = document.body.dataset.mapTiles || "";
  const tileAttribution = document.body.dataset.mapAttribution || "";

  // A "nice" step (1, 2 or 5 × 10^n degrees) giving a few grid lines per 256 px tile.
  function niceStep(degrees) {
    const power = 10 ** Math.floor(Math.log10(degrees));
    const n = degrees / power;
    return (n < 1.5 ? 1 : n < 3.5 ? 2 : n < 7.5 ? 5 : 10) * power;
  }
  const decimals = (step) => Math.max(0, -Math.floor(Math.log10(step)));

  // Latitude / longitude lines and their values, drawn per tile.
  const Graticule = L.GridLayer.extend({
    createTile(coords) {
      const size = this.getTileSize();
      const canvas = document.createElement("canvas");
      canvas.width = size.x;
      canvas.height = size.y;
      const g = canvas.getContext("2d");
      g.fillStyle = "#101720";
      g.fillRect(0, 0, size.x, size.y);
      const map = this._map;
      const origin = coords.scaleBy(size);
      const nw = map.unproject(origin, coords.z);
      const se = map.unproject(origin.add(size), coords.z);
      const step = niceStep((se.lng - nw.lng) / 2);
      const digits = decimals(step);
      g.strokeStyle = "#25303d";
      g.fillStyle = "#5d6b7c";
      g.font = "10px sans-serif";
      g.lineWidth = 1;
      for (let lon = Math.ceil(nw.lng / step) * step; lon <= se.lng; lon += step) {
        const x = Math.round(map.project([nw.lat, lon], coords.z).x - origin.x) + 0.5;
        g.beginPath(); g.moveTo(x, 0); g.lineTo(x, size.y); g.stroke();
        g.fillText(`${lon.toFixed(digits)}°`, x + 3, size.y - 4);
      }
      for (let lat = Math.ceil(se.lat / step) * step; lat <= nw.lat; lat += step) {
        const y = Math.round(map.project([lat, nw.lng], coords.z).y - origin.y) + 0.5;
        g.beginPath(); g.moveTo(0, y); g.lineTo(size.x, y); g.stroke();
        g.fillText(`${lat.toFixed(digits)}°`, 3, y - 3);
      }
      return canvas;
    },
  });

  function create(element, options = {}) {
    const map = L.map(element, { worldCopyJump: true, ...options });
    if (tileUrl) {
      L.tileLayer(tileUrl, { maxZoom: 19, attribution: tileAttribution }).addTo(map);
    } else {
      new Graticule({ maxZoom: 22, attribution: "coordinate grid: no map tiles set (BWV_MAP_TILE_URL)" }).addTo(map);
    }
    return map;
  }

  const stateOf = (c) => (c.live ? c.state : "offline");

  // A camera's marker: a dot in its state's colour and its id (DOM built with textContent, never HTML).
  function cameraIcon(c) {
    const node = el("div", { class: `cam-marker cam-${stateOf(c)}`, dataset: { camera: c.camera_id, state: stateOf(c) } },
      el("span", { class: "cam-dot" }),
      el("span", { class: "cam-label", text: c.camera_id }));
    return L.divIcon({ html: node, className: "cam-icon", iconSize: null, iconAnchor: [7, 7], popupAnchor: [0, -8] });
  }

  return { create, cameraIcon, stateOf, hasTiles: Boolean(tileUrl) };
})();
