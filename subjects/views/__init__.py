"""The participant pages of the coordinator (`participants`); the dashboard is in reporting."""
