"""Accounts: an administrator manages accounts and roles, and holds no clinical permission.

Django gives a superuser every permission, twice over: `User.has_perm` answers yes before
asking any backend, and `ModelBackend` lists every permission for one. Here a superuser
holds the permissions of account management (users, groups, the login lockout, the admin
log) and nothing else: a clinical permission comes only from a role (protocol section 8,
"an administrator holds no clinical role unless given one"). Users are deactivated, never
deleted: history keeps a protected reference to each.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import _user_has_module_perms, _user_has_perm

# The apps whose permissions are account management, which a superuser holds by being one.
ACCOUNT_APPS = frozenset({"auth", "admin", "axes", "contenttypes", "sessions"})


class RoleBackend(ModelBackend):
    """ModelBackend without its superuser shortcut: permissions come from groups and the user."""

    def _get_permissions(self, user_obj: Any, obj: Any, from_name: str) -> set[str]:
        if not user_obj.is_active or user_obj.is_anonymous or obj is not None:
            return set()
        cache = f"_{from_name}_perm_cache"
        if not hasattr(user_obj, cache):
            perms = getattr(self, f"_get_{from_name}_permissions")(user_obj)
            pairs = perms.values_list("content_type__app_label", "codename").order_by()
            setattr(user_obj, cache, {f"{app}.{codename}" for app, codename in pairs})
        return getattr(user_obj, cache)


def user_has_perm(user: Any, perm: str, obj: Any = None) -> bool:
    if user.is_active and user.is_superuser and perm.split(".", 1)[0] in ACCOUNT_APPS:
        return True
    return _user_has_perm(user, perm, obj)


def user_has_module_perms(user: Any, app_label: str) -> bool:
    if user.is_active and user.is_superuser and app_label in ACCOUNT_APPS:
        return True
    return _user_has_module_perms(user, app_label)


def superuser_limit() -> None:
    """Give the user model the rules above (called once, from the app's ready())."""
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    user_model.has_perm = user_has_perm
    user_model.has_perms = lambda self, perm_list, obj=None: all(
        user_has_perm(self, p, obj) for p in perm_list
    )
    user_model.has_module_perms = user_has_module_perms
