"""Admin: accounts and roles are managed here; clinical and review records are read-only.

Every change to clinical data goes through a service that asks for a reason; the admin is
no back door around it. Every write path of these admins is refused, for superusers too:
add, change, delete, actions, bulk edits, and simple-history's history form with its
"revert" (whose POST would otherwise save a historical version straight into the record).
Users are never deleted, only deactivated: history names them for ever.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from simple_history.admin import SimpleHistoryAdmin

SAFE_METHODS = ("GET", "HEAD", "OPTIONS")


def _read_only(request: HttpRequest) -> None:
    if request.method not in SAFE_METHODS:
        raise PermissionDenied


class ReadOnlyAdminMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        return {}

    def get_list_editable(self, request: HttpRequest) -> tuple:
        return ()

    # Refused before Django or simple-history look at the data, whatever the user may do.
    def changeform_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _read_only(request)
        return super().changeform_view(request, *args, **kwargs)

    def changelist_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _read_only(request)
        return super().changelist_view(request, *args, **kwargs)

    def delete_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        raise PermissionDenied


class ClinicalReadOnlyAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    """A record and its history to read. The history form shows a version; it never saves."""

    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True

    def has_change_history_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def history_form_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _read_only(request)
        return super().history_form_view(request, *args, **kwargs)

    def history_view(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        _read_only(request)
        return super().history_view(request, *args, **kwargs)


class RecordReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """For records kept without simple-history (they are themselves audit records)."""


User = get_user_model()


@admin.action(description=_("Deactivate the selected users"))
def deactivate_users(
    modeladmin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet
) -> None:
    count = queryset.filter(is_active=True).exclude(pk=request.user.pk).update(is_active=False)
    modeladmin.message_user(
        request,
        ngettext("%(n)d user deactivated.", "%(n)d users deactivated.", count) % {"n": count},
        messages.SUCCESS,
    )


class AccountAdmin(UserAdmin):
    """Users are deactivated (untick "Active", or the action), never deleted."""

    actions = [deactivate_users]
    list_display = ("username", "first_name", "last_name", "email", "is_active", "is_staff")
    list_filter = ("is_active", "is_staff", "is_superuser", "groups")

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions


if admin.site.is_registered(User):
    admin.site.unregister(User)
admin.site.register(User, AccountAdmin)
