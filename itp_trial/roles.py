"""The four roles and the permissions each one's people need.

Coordinators and investigators enter clinical data; investigators also sign casebooks and
decide; monitors read, raise queries and export but never change clinical data; data
managers export, import, and lock and unlock casebooks and the database.
"""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_noop

# The group names, stored in English; pages show them translated ({% translate user_role %}).
COORDINATOR = gettext_noop("Site coordinator")
INVESTIGATOR = gettext_noop("Investigator")
MONITOR = gettext_noop("Monitor")
DATA_MANAGER = gettext_noop("Data manager")
ROLES = (COORDINATOR, INVESTIGATOR, MONITOR, DATA_MANAGER)

CLINICAL_MODELS = (
    "subjects.participant",
    "subjects.eligibilityanswer",
    "visits.visit",
    "visits.plateletcount",
    "infusions.infusion",
    "safety.adverseevent",
    "safety.concomitantmedication",
)
READ_MODELS = CLINICAL_MODELS + (
    "safety.flag",
    "safety.dataquery",
    "subjects.signature",
    "subjects.casebooklock",
    "itp_trial.databaselock",
)
# Review records of section 8: the query conversation and source data verification.
READ_MODELS += ("safety.querymessage", "safety.verification")


def _crud(models: tuple[str, ...], actions: tuple[str, ...]) -> set[str]:
    perms = set()
    for label in models:
        app, model = label.split(".")
        perms.update(f"{app}.{action}_{model}" for action in actions)
    return perms


_VIEW_ALL = _crud(READ_MODELS, ("view",))
_ENTER_DATA = _crud(CLINICAL_MODELS, ("add", "change")) | {"safety.change_dataquery"}

ROLE_PERMISSIONS: dict[str, set[str]] = {
    COORDINATOR: _VIEW_ALL | _ENTER_DATA,
    INVESTIGATOR: _VIEW_ALL
    | _ENTER_DATA
    | {
        "subjects.discontinue_treatment",
        "subjects.sign_casebook",
        "safety.acknowledge_flag",
    },
    MONITOR: _VIEW_ALL
    | {"safety.acknowledge_flag", "safety.add_dataquery", "exchange.export_data"}
    | {"safety.add_verification"},
    DATA_MANAGER: _VIEW_ALL
    | {
        "exchange.export_data",
        "exchange.import_data",
        "subjects.lock_casebook",
        "itp_trial.lock_database",
    }
    | {"safety.add_dataquery"},
}


def roles_sync(*, group_model: Any, permission_model: Any) -> None:
    """Create the four groups and set exactly the permissions roles.py gives each."""
    for role, codes in ROLE_PERMISSIONS.items():
        group, _ = group_model.objects.get_or_create(name=role)
        wanted = []
        for code in sorted(codes):
            app_label, codename = code.split(".")
            perm = permission_model.objects.filter(
                content_type__app_label=app_label, codename=codename
            ).first()
            if perm is not None:
                wanted.append(perm)
        group.permissions.set(wanted)


def permissions_create_all(*, using: str = "default") -> None:
    """Create every app's permissions now (Django creates them only after all migrations)."""
    from django.apps import apps
    from django.contrib.auth.management import create_permissions

    for app_config in apps.get_app_configs():
        create_permissions(app_config, verbosity=0, using=using)


def roles_sync_after_migrate(sender: Any, using: str = "default", **kwargs: Any) -> None:
    if sender.name != "itp_trial":
        return
    from django.contrib.auth.models import Group, Permission

    permissions_create_all(using=using)
    roles_sync(group_model=Group, permission_model=Permission)


def user_role(user: Any) -> str | None:
    """The user's role: the first of the four groups they belong to.

    Read once per user object, as Django keeps its permissions: a request asks twice (the
    home page's redirect and the navigation), and every page pays for a second query."""
    if not getattr(user, "is_authenticated", False):
        return None
    if not hasattr(user, "_role_cache"):
        names = {g.name for g in user.groups.all()}
        user._role_cache = next((role for role in ROLES if role in names), None)
    return user._role_cache
