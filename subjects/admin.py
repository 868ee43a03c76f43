from django.contrib import admin

from itp_trial.admin import ClinicalReadOnlyAdmin

from .models import EligibilityAnswer, Participant, SignOff


@admin.register(Participant)
class ParticipantAdmin(ClinicalReadOnlyAdmin):
    list_display = ("subject_id", "screening_number", "sex", "consent_date", "status")
    list_filter = ("status", "sex")
    search_fields = ("subject_id", "screening_number")


@admin.register(EligibilityAnswer)
class EligibilityAnswerAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "criterion", "met")
    list_select_related = ("participant",)


@admin.register(SignOff)
class SignOffAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "signed_by", "signed_at")
    list_select_related = ("participant", "signed_by")
