"""Admin UI (Jinja2 + HTMX)."""
