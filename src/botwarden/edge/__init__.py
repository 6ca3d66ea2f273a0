"""The edge: where Botwarden meets traffic.

`listener.py` accepts connections (peeking TLS ClientHellos), `app.py` scores and acts on
every request, `upstream.py` forwards to the origin, `forward_auth.py` answers nginx /
Traefik / Caddy sub-requests, `challenge.py` runs the interstitial, `config.py` keeps the
zones' configuration current, `metrics.py` exposes Prometheus metrics, `cli.py` is
`botwarden serve`.
"""
