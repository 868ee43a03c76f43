from django.contrib import admin

from itp_trial.admin import ClinicalReadOnlyAdmin

from .models import Infusion


@admin.register(Infusion)
class InfusionAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "number", "infusion_date", "actual_cells", "dose_deviation")
    list_select_related = ("participant",)
    search_fields = ("participant__subject_id", "lot_number")
