from django.contrib import admin

from itp_trial.admin import ClinicalReadOnlyAdmin

from .models import AdverseEvent, ConcomitantMedication, DataQuery, Flag


@admin.register(AdverseEvent)
class AdverseEventAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "ae_number", "term", "ctcae_grade", "serious", "onset_date")
    list_filter = ("serious", "ctcae_grade")
    list_select_related = ("participant",)


@admin.register(ConcomitantMedication)
class ConcomitantMedicationAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "drug", "start_date", "end_date", "rescue")
    list_select_related = ("participant",)


@admin.register(Flag)
class FlagAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "kind", "raised_at", "resolved_at", "acknowledged_at")
    list_filter = ("kind",)
    list_select_related = ("participant",)


@admin.register(DataQuery)
class DataQueryAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "raised_by", "raised_at", "closed_at")
    list_select_related = ("participant", "raised_by")
