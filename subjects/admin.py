from django.contrib import admin

from itp_trial.admin import ClinicalReadOnlyAdmin

from .models import CasebookLock, EligibilityAnswer, Participant, Signature


@admin.register(Participant)
class ParticipantAdmin(ClinicalReadOnlyAdmin):
    list_display = ("subject_id", "screening_number", "sex", "consent_date", "status")
    list_filter = ("status", "sex")
    search_fields = ("subject_id", "screening_number")


@admin.register(EligibilityAnswer)
class EligibilityAnswerAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "criterion", "met")
    list_select_related = ("participant",)


@admin.register(Signature)
class SignatureAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "signer_name", "signed_at", "meaning", "stale_at")
    list_select_related = ("participant", "signed_by")


@admin.register(CasebookLock)
class CasebookLockAdmin(ClinicalReadOnlyAdmin):
    list_display = ("participant", "locked_at", "locked_by", "unlocked_at", "unlocked_by")
    list_select_related = ("participant", "locked_by", "unlocked_by")
