"""One module per resource; each exposes `router` (mounted under /client/v4 by app.py)."""
