from django.contrib import admin

from itp_trial.admin import ClinicalReadOnlyAdmin

from .models import PlateletCount, Visit


@admin.register(Visit)
class VisitAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "code", "actual_date", "window_status", "missed")
    list_filter = ("code", "window_status")
    list_select_related = ("participant",)
    search_fields = ("participant__subject_id",)


@admin.register(PlateletCount)
class PlateletCountAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "sample_date", "platelets", "who_bleeding_grade", "visit")
    list_select_related = ("participant", "visit")
    search_fields = ("participant__subject_id",)
