"""Admin: clinical records are read-only here, with their history.

Every change to clinical data goes through a service that asks for a reason; the admin is
no back door around it, and nothing clinical can be deleted from it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from simple_history.admin import SimpleHistoryAdmin


class ReadOnlyAdminMixin:
    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> dict:
        return {}



class ClinicalReadOnlyAdmin(ReadOnlyAdminMixin, SimpleHistoryAdmin):
    # simple-history offers "revert to this version"; a revert would bypass the reason.
    def revert_disabled(self, request: HttpRequest, obj: Any = None) -> bool:
        return True


class RecordReadOnlyAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """For records kept without simple-history (they are themselves audit records)."""
