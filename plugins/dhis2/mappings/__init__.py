"""Code mappings: their store, file import and export, endpoints and console page."""
