"""No models of its own. The module exists so that Django sends this app post_migrate,
also after a flush, which keeps the four roles and their permissions in place
(itp_trial.apps)."""
