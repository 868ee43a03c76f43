"""The participant pages: `participants` (the coordinator's), `dashboard` (the dashboard)."""
