from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from itp_trial import protocol
from itp_trial.audit import AuditedHistory, ClinicalModel, VersionedModel
from itp_trial.choices import ParticipantStatus
from itp_trial.locks import LockPeriod
from itp_trial.text import interpolated

# Guardian consent and child assent: required under the protocol's adult age.
MINOR_HELP = interpolated(
    _("Required for a participant under %(age)s at consent."), age=protocol.ADULT_AGE_YEARS
)


class Sex(models.TextChoices):
    MALE = "M", _("Male")
    FEMALE = "F", _("Female")


class WithdrawalReason(models.TextChoices):
    WITHDREW_CONSENT = "withdrew_consent", _("Withdrew consent")
    ADVERSE_EVENT = "adverse_event", _("Adverse event")
    LOST_TO_FOLLOW_UP = "lost_to_follow_up", _("Lost to follow-up")
    DEATH = "death", _("Death")
    INVESTIGATOR_DECISION = "investigator_decision", _("Investigator decision")
    OTHER = "other", _("Other")


CRITERION_CHOICES = [(c.code, c.code) for c in protocol.CRITERIA]


class SequenceCounter(models.Model):
    """The last number handed out for a sequence; identifiers are never reused."""

    name = models.CharField(max_length=32, primary_key=True)
    value = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}={self.value}"


class Participant(ClinicalModel):
    subject_id = models.CharField(_("subject ID"), max_length=16, unique=True, editable=False)
    screening_number = models.CharField(
        _("screening number"), max_length=16, unique=True, editable=False
    )
    sex = models.CharField(_("sex"), max_length=1, choices=Sex.choices)
    birth_date = models.DateField(_("date of birth"))
    consent_date = models.DateField(
        _("consent date"), help_text=_("The date the informed consent form was signed.")
    )
    consent_version = models.CharField(
        _("consent form version"), max_length=32, help_text=_("As printed on the form, e.g. 2.1.")
    )
    guardian_consent = models.BooleanField(
        _("guardian consent signed"),
        null=True,
        blank=True,
        help_text=MINOR_HELP,
    )
    child_assent = models.BooleanField(
        _("child assent obtained"),
        null=True,
        blank=True,
        help_text=MINOR_HELP,
    )
    itp_diagnosis_date = models.DateField(
        _("ITP diagnosis date"),
        null=True,
        blank=True,
        help_text=interpolated(
            _("Thrombocytopenia must have lasted more than %(months)s months at consent (I3)."),
            months=protocol.ITP_MIN_DURATION_MONTHS,
        ),
    )
    prior_therapies = models.TextField(
        _("prior ITP therapies"),
        blank=True,
        help_text=_("First-line, second-line, rituximab, TPO-RA, splenectomy… with outcomes."),
    )
    splenectomy = models.BooleanField(_("splenectomy"), default=False)
    splenectomy_date = models.DateField(_("splenectomy date"), null=True, blank=True)
    height_cm = models.DecimalField(
        _("height (cm)"), max_digits=4, decimal_places=1, null=True, blank=True
    )
    eligible = models.BooleanField(
        _("eligible"), null=True, editable=False, help_text=_("Derived from the checklist.")
    )
    eligibility_assessed_on = models.DateField(null=True, blank=True, editable=False)
    enrolled_on = models.DateField(
        _("enrolment date"),
        null=True,
        blank=True,
        help_text=_(
            "The date the participant was enrolled, as on the CRF: not in the future, not "
            "before consent."
        ),
    )
    planned_first_infusion_date = models.DateField(
        _("planned date of infusion 1"),
        null=True,
        blank=True,
        help_text=_("Set at enrolment; the screening and baseline windows hang on it."),
    )
    treatment_discontinued_date = models.DateField(
        _("treatment discontinued on"), null=True, blank=True
    )
    treatment_discontinued_reason = models.TextField(
        _("reason for discontinuing treatment"), blank=True
    )
    withdrawal_date = models.DateField(_("withdrawal date"), null=True, blank=True)
    withdrawal_reason = models.CharField(
        _("withdrawal reason"), max_length=32, choices=WithdrawalReason.choices, blank=True
    )
    withdrawal_detail = models.TextField(_("withdrawal details"), blank=True)
    # Derived by the schedule engine and stored for lists and filters; kept in step by services.
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=ParticipantStatus.choices,
        default=ParticipantStatus.SCREENING,
        db_index=True,
        editable=False,
    )
    created_at = models.DateTimeField(auto_now_add=True)
    # Set while the casebook is locked; kept by the lock services, whose history is the
    # CasebookLock rows (itp_trial.locks reads it to refuse writes).
    locked_at = models.DateTimeField(_("casebook locked at"), null=True, blank=True, editable=False)

    history = AuditedHistory(excluded_fields=["status", "locked_at"])
    lock_participant = "pk"

    class Meta:
        ordering = ["subject_id"]
        permissions = [
            ("discontinue_treatment", "Can discontinue a participant's treatment"),
        ]

    def __str__(self) -> str:
        return self.subject_id


class EligibilityAnswer(ClinicalModel):
    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="eligibility_answers"
    )
    criterion = models.CharField(_("criterion"), max_length=3, choices=CRITERION_CHOICES)
    met = models.BooleanField(_("met"))

    history = AuditedHistory()

    class Meta:
        ordering = ["participant", "criterion"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "criterion"], name="eligibility_one_answer_per_criterion"
            )
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.criterion}={'Y' if self.met else 'N'}"


SIGNATURE_MEANING_CHOICES = list(protocol.SIGNATURE_MEANINGS)


class Signature(VersionedModel):
    """An investigator's electronic signature on a participant's casebook (21 CFR 11.50,
    11.70): who (full name at the time), when (with the time zone), what it means, and the
    sha256 of the casebook data signed, which links the signature to exactly that data.

    It is stale once the data no longer hash the same, or once `stale_at` is set (the checks
    set it at the first change after signing, an unlock sets it too); a new signature is
    then required. Signatures before this model (sign-offs) were not tied to the data: they
    were migrated with an empty hash, stale.
    """

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="signatures"
    )
    signed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    signer_name = models.CharField(_("signed by (full name)"), max_length=300)
    signed_at = models.DateTimeField(_("signed at"))
    time_zone = models.CharField(_("time zone"), max_length=64)
    meaning = models.CharField(
        _("meaning"), max_length=32, choices=SIGNATURE_MEANING_CHOICES, blank=True
    )
    statement = models.TextField(_("statement"), help_text=_("The meaning, as the signer read it."))
    content_hash = models.CharField(_("casebook sha256"), max_length=64, blank=True)
    stale_at = models.DateTimeField(_("stale since"), null=True, blank=True)
    stale_reason = models.TextField(_("why it is stale"), blank=True)

    history = AuditedHistory()
    lock_participant = "participant_id"

    class Meta:
        ordering = ["-signed_at", "-id"]
        permissions = [("sign_casebook", "Can sign a participant's casebook")]

    def __str__(self) -> str:
        return f"{self.participant_id} signed by {self.signer_name}"


class CasebookLock(LockPeriod):
    """One period of a participant's casebook being locked; open while `unlocked_at` is
    empty. `Participant.locked_at` mirrors the open one for the write guard."""

    participant = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="casebook_locks"
    )

    history = AuditedHistory()

    class Meta:
        ordering = ["participant", "-locked_at", "-id"]
        verbose_name = _("casebook lock")
        permissions = [("lock_casebook", "Can lock and unlock a participant's casebook")]
        constraints = [LockPeriod.one_open("participant", name="casebook_lock_one_open")]

    def __str__(self) -> str:
        return f"{self.participant_id} locked {self.locked_at:%Y-%m-%d %H:%M}"
