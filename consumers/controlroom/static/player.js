// One player for live and recorded footage: hls.js (static/vendor) over the control room's HLS playlists.
// Live: /media/recordings/<id>/live.m3u8, the newest segments, followed close to the live edge.
// Recorded: /media/recordings/<id>/index.m3u8, every segment, played from the start.
// Each player sends a token of its own with its playlist: one token, one "played" custody event.
"use strict";

BWV.Player = (() => {
  // Close to live, without stalling: a 2 s segment becomes playable about a second after its capture
  // ends (ingest, listing, the playlist reload), so the player keeps ~3 s behind the newest segment's
  // end and speeds up a little (inaudibly) when it has fallen further behind.
  const LIVE = {
    liveSyncDuration: 2.5,
    liveMaxLatencyDuration: 10,
    maxLiveSyncPlaybackRate: 1.15,
    backBufferLength: 30,
    enableWorker: true,
  };
  const RECORDED = { startPosition: 0, enableWorker: true, backBufferLength: 60 };

  let clockOffset = 0; // server clock - browser clock, ms: delays are measured against the server's
  let clockSynced = null;
  function syncClock() {
    if (!clockSynced) {
      clockSynced = (async () => {
        const sent = Date.now();
        const r = await fetch("/api/me", { credentials: "same-origin" });
        const received = Date.now();
        if (r.ok) {
          const me = await r.json();
          if (typeof me.server_time === "number") clockOffset = me.server_time * 1000 - (sent + received) / 2;
        }
      })().catch(() => { clockSynced = null; });
    }
    return clockSynced;
  }
  const now = () => Date.now() + clockOffset;

  function token() {
    const bytes = new Uint8Array(12);
    crypto.getRandomValues(bytes);
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  const sequenceOf = (frag) => {
    const m = /(\d+)\.ts(?:\?|$)/.exec(frag.relurl || frag.url || "");
    return m ? Number(m[1]) : null;
  };

  // video: a <video>; options: {recordingId, live, onStats(stats), onError(message)}.
  function create(video, { recordingId, live, onStats, onError }) {
    const url = `/media/recordings/${encodeURIComponent(recordingId)}/${live ? "live" : "index"}.m3u8?view=${token()}`;
    const buffered = []; // {sequence, captureEnd, bufferedAt} (ms, server clock): read by bench/live.py
    let details = null;
    let timer = null;
    let hls = null;
    const fail = (message) => { if (onError) onError(message); };
    syncClock();

    function stats() {
      const s = { live, recordingId, newestAge: null, behindEdge: null, behindLive: null, position: video.currentTime };
      const frags = details ? details.fragments : [];
      const newest = frags[frags.length - 1];
      if (newest && newest.programDateTime) s.newestAge = (now() - (newest.programDateTime + newest.duration * 1000)) / 1000;
      if (hls && live) {
        // Media time, so that behind live = newest segment's age + behind the edge (hls.latency also counts
        // the playlist's age, which the newest segment's age already shows).
        if (newest) s.behindEdge = newest.start + newest.duration - video.currentTime;
        const playing = hls.playingDate;
        if (playing && !video.paused) s.behindLive = (now() - playing.getTime()) / 1000;
      }
      return s;
    }

    function report() { if (onStats) onStats(stats()); }

    function play() {
      video.play().catch(() => {
        // No user gesture yet (autoplay policy): start muted; the controls unmute.
        video.muted = true;
        video.play().catch(() => {});
      });
    }

    if (!window.Hls || !Hls.isSupported()) {
      if (video.canPlayType("application/vnd.apple.mpegurl")) {
        video.src = url; // native HLS (Safari)
        play();
      } else {
        fail("This browser cannot play HLS (no Media Source Extensions).");
      }
      return { hls: null, buffered, stats, stop() { video.removeAttribute("src"); video.load(); }, seekToSequence() { return false; } };
    }

    hls = new Hls(live ? LIVE : RECORDED);
    hls.on(Hls.Events.MANIFEST_PARSED, play);
    hls.on(Hls.Events.LEVEL_UPDATED, (_, data) => { details = data.details; report(); });
    hls.on(Hls.Events.FRAG_BUFFERED, (_, data) => {
      const f = data.frag;
      if (f.type === "main" && f.programDateTime) {
        buffered.push({ sequence: sequenceOf(f), captureEnd: f.programDateTime + f.duration * 1000, bufferedAt: now() });
        if (buffered.length > 2000) buffered.splice(0, 1000);
      }
    });
    let recovering = 0;
    hls.on(Hls.Events.ERROR, (_, data) => {
      const status = data.response && data.response.code;
      if (status === 401) { fail("Your login has ended."); hls.stopLoad(); BWV.toLogin(); return; }
      if (!data.fatal) return;
      if (status === 404 || status === 503) {
        fail(status === 404 ? "This recording has no footage to play." : "The footage cannot be played now (storage or custody record unavailable).");
      }
      if (recovering++ < 5) {
        if (data.type === Hls.ErrorTypes.MEDIA_ERROR) hls.recoverMediaError();
        else setTimeout(() => hls && hls.startLoad(), 1000);
      } else {
        fail(`Playback failed: ${data.details}`);
        hls.destroy();
        hls = null;
      }
    });
    hls.on(Hls.Events.FRAG_LOADED, () => { recovering = 0; });
    hls.loadSource(url);
    hls.attachMedia(video);
    timer = setInterval(report, 500);

    return {
      get hls() { return hls; },
      buffered,
      stats,
      stop() {
        clearInterval(timer);
        if (hls) { hls.destroy(); hls = null; }
        video.removeAttribute("src");
        video.load();
      },
      // Recorded footage: jump to a segment (a thumbnail's sequence); false if it is not in the playlist yet.
      seekToSequence(sequence) {
        const frag = details && details.fragments.find((f) => sequenceOf(f) === sequence);
        if (!frag) return false;
        video.currentTime = frag.start + 0.05;
        play();
        return true;
      },
    };
  }

  return { create, syncClock };
})();
