"""The control room: a web app for supervisors watching the fleet and handling footage.

Modules, one job each:

| module | job |
|---|---|
| ``users`` | the users file: operators, roles, argon2 password hashes |
| ``sessions`` | signed, expiring session tokens (the cookie) |
| ``auth`` | login/logout pages, the middleware that admits only logged-in operators, role checks |
| ``alerts`` | the alert board: latest alert per dedup key, acknowledgements read back from bwv.custody |
| ``live`` | the caught-up view of cameras, recordings and alerts, and what changed since the last look |
| ``events`` | server-sent events: a snapshot, then every change, to each browser |
| ``media`` | thumbnails and playable MP4s (remuxed from the stored segments) |
| ``playlists`` | HLS playlists (live window, whole recording) over the stored segments |
| ``segment_cache`` | segment listings, headers and bytes cached once for every viewer |
| ``watch`` | live and recorded playback (playlists, segments), routes, the map page |
| ``audit`` | views, plays and acknowledgements put on the custody record |
| ``views`` | the pages and the JSON the pages use |
| ``actions`` | mark / release (through ``streams.commands``), acknowledge, export |
| ``metrics`` | Prometheus counters on ``BWV_METRICS_PORT`` |
| ``context``, ``render`` | what every handler needs; Jinja2 pages |
| ``app`` | wiring: the aiohttp application and ``serve`` |

Data comes from the compacted index topics and bwv.alerts (read without a
consumer group) and from S3; the control room keeps no state of its own but
the users file.
"""
