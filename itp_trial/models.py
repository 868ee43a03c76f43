"""The app's models: the head of the audit hash chain (itp_trial.audit) and the database
lock (itp_trial.locks). The module also makes Django send this app post_migrate, also after
a flush, which keeps the four roles and their permissions in place (itp_trial.apps)."""

from .audit import AuditChainHead
from .locks import DatabaseLock

__all__ = ["AuditChainHead", "DatabaseLock"]
