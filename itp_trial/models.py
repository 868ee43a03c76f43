"""The app's one model is the head of the audit hash chain (itp_trial.audit). The module
also makes Django send this app post_migrate, also after a flush, which keeps the four
roles and their permissions in place (itp_trial.apps)."""

from .audit import AuditChainHead

__all__ = ["AuditChainHead"]
