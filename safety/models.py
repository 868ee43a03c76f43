from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from itp_trial import protocol
from itp_trial.audit import AuditedHistory, ClinicalModel, VersionedModel


class Relationship(models.TextChoices):
    NOT_RELATED = "not_related", _("Not related")
    UNLIKELY = "unlikely", _("Unlikely")
    POSSIBLE = "possible", _("Possible")
    PROBABLE = "probable", _("Probable")
    DEFINITE = "definite", _("Definite")


class Outcome(models.TextChoices):
    RECOVERED = "recovered", _("Recovered")
    RECOVERING = "recovering", _("Recovering")
    NOT_RECOVERED = "not_recovered", _("Not recovered")
    RECOVERED_WITH_SEQUELAE = "recovered_with_sequelae", _("Recovered with sequelae")
    FATAL = "fatal", _("Fatal")
    UNKNOWN = "unknown", _("Unknown")


class SeriousCriterion(models.TextChoices):
    DEATH = "death", _("Death")
    LIFE_THREATENING = "life_threatening", _("Life-threatening")
    HOSPITALISATION = "hospitalisation", _("Hospitalisation or its prolongation")
    DISABILITY = "disability", _("Persistent or significant disability")
    CONGENITAL_ANOMALY = "congenital_anomaly", _("Congenital anomaly")
    IMPORTANT_MEDICAL_EVENT = "important_medical_event", _("Important medical event")


class ActionTaken(models.TextChoices):
    NONE = "none", _("None")
    INFUSION_INTERRUPTED = "infusion_interrupted", _("Infusion interrupted")
    INFUSION_STOPPED = "infusion_stopped", _("Infusion stopped")
    TREATMENT_DISCONTINUED = "treatment_discontinued", _("Treatment discontinued")
    OTHER = "other", _("Other")


class AdverseEvent(ClinicalModel):
    participant = models.ForeignKey(
        "subjects.Participant", on_delete=models.PROTECT, related_name="adverse_events"
    )
    ae_number = models.PositiveSmallIntegerField(
        _("AE number"), editable=False, help_text=_("Numbered per participant, from 1.")
    )
    term = models.CharField(_("term"), max_length=200, help_text=_("CTCAE v5.0 term."))
    onset_date = models.DateField(_("onset date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    ongoing = models.BooleanField(_("ongoing"), default=False)
    ctcae_grade = models.PositiveSmallIntegerField(
        _("CTCAE grade"),
        validators=[
            MinValueValidator(protocol.CTCAE_GRADE_MIN),
            MaxValueValidator(protocol.CTCAE_GRADE_MAX),
        ],
        help_text=_("CTCAE v5.0: 1 mild, 2 moderate, 3 severe, 4 life-threatening, 5 death."),
    )
    serious = models.BooleanField(_("serious"), default=False)
    # The codes of SeriousCriterion, ';'-separated as in the CSV contract.
    serious_criteria = models.CharField(_("seriousness criteria"), max_length=200, blank=True)
    relationship = models.CharField(
        _("relationship to MSC"), max_length=16, choices=Relationship.choices
    )
    related_infusion = models.ForeignKey(
        "infusions.Infusion",
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="adverse_events",
        verbose_name=_("related infusion"),
    )
    action_taken = models.CharField(
        _("action taken"), max_length=32, choices=ActionTaken.choices, default=ActionTaken.NONE
    )
    outcome = models.CharField(_("outcome"), max_length=32, choices=Outcome.choices)
    awareness_at = models.DateTimeField(
        _("site aware at"), help_text=_("When the site first learned of the event.")
    )
    reported_at = models.DateTimeField(
        _("reported at"),
        null=True,
        blank=True,
        help_text=_("For a serious event: when it was reported (due within 24 hours)."),
    )

    history = AuditedHistory()

    class Meta:
        ordering = ["participant", "ae_number"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "ae_number"], name="ae_unique_number"),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True)
                | models.Q(end_date__gte=models.F("onset_date")),
                name="ae_end_not_before_onset",
            ),
            models.CheckConstraint(
                condition=models.Q(ctcae_grade__gte=1) & models.Q(ctcae_grade__lte=5),
                name="ae_grade_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} AE{self.ae_number} {self.term}"

    @property
    def serious_criteria_list(self) -> list[str]:
        return [c for c in self.serious_criteria.split(";") if c]


class ConcomitantMedication(ClinicalModel):
    participant = models.ForeignKey(
        "subjects.Participant", on_delete=models.PROTECT, related_name="conmeds"
    )
    drug = models.CharField(_("drug"), max_length=200)
    indication = models.CharField(_("indication"), max_length=200)
    dose = models.CharField(_("dose"), max_length=100, blank=True, help_text=_("e.g. 1 g/kg/day"))
    start_date = models.DateField(_("start date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    rescue = models.BooleanField(
        _("rescue therapy"),
        default=False,
        help_text=_(
            "IVIg, platelet transfusion, high-dose steroids or a TPO-RA started on study: "
            "platelet assessments in the 28 days from its start are not evaluable."
        ),
    )

    history = AuditedHistory()

    class Meta:
        ordering = ["participant", "start_date", "drug"]
        verbose_name = _("concomitant medication")
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "drug", "start_date"], name="conmed_unique_start"
            ),
            models.CheckConstraint(
                condition=models.Q(end_date__isnull=True)
                | models.Q(end_date__gte=models.F("start_date")),
                name="conmed_end_not_before_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.drug}"


class FlagKind(models.TextChoices):
    OVERDUE = "overdue", _("Overdue visit")
    OUT_OF_WINDOW = "out_of_window", _("Visit out of window")
    MISSED_VISIT = "missed_visit", _("Missed visit")
    DOSE_DEVIATION = "dose_deviation", _("Dose deviation")
    SAE_REPORT_OVERDUE = "sae_report_overdue", _("SAE report overdue")


class FlagStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")


# Kinds a reviewer acknowledges; the others resolve when the data arrive.
ACKNOWLEDGED_KINDS = (FlagKind.OUT_OF_WINDOW, FlagKind.MISSED_VISIT, FlagKind.DOSE_DEVIATION)


class Flag(VersionedModel):
    """A finding of the background checks (protocol section 6), one per kind and record."""

    kind = models.CharField(_("kind"), max_length=24, choices=FlagKind.choices)
    participant = models.ForeignKey(
        "subjects.Participant", on_delete=models.PROTECT, related_name="flags"
    )
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="flags"
    )
    infusion = models.ForeignKey(
        "infusions.Infusion", on_delete=models.PROTECT, null=True, blank=True, related_name="flags"
    )
    adverse_event = models.ForeignKey(
        AdverseEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="flags"
    )
    detail = models.TextField(_("detail"), blank=True)
    raised_at = models.DateTimeField(_("raised at"))
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(_("acknowledged at"), null=True, blank=True)
    acknowledgement_comment = models.TextField(_("comment"), blank=True)

    history = AuditedHistory()

    class Meta:
        ordering = ["-raised_at", "id"]
        permissions = [("acknowledge_flag", "Can acknowledge a flag")]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "visit"],
                condition=models.Q(visit__isnull=False),
                name="flag_unique_visit",
            ),
            models.UniqueConstraint(
                fields=["kind", "infusion"],
                condition=models.Q(infusion__isnull=False),
                name="flag_unique_infusion",
            ),
            models.UniqueConstraint(
                fields=["kind", "adverse_event"],
                condition=models.Q(adverse_event__isnull=False),
                name="flag_unique_adverse_event",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "resolved_at", "acknowledged_at"]),
            # The flags list's order, newest first, paginated: an index scan, not a sort.
            models.Index(fields=["-raised_at", "-id"], name="flag_raised_at"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.participant_id}"

    @property
    def status(self) -> str:
        if self.acknowledged_at is not None:
            return FlagStatus.ACKNOWLEDGED
        if self.resolved_at is not None:
            return FlagStatus.RESOLVED
        return FlagStatus.OPEN


class DataQuery(VersionedModel):
    """A monitor's question about a participant's data, answered by the site."""

    participant = models.ForeignKey(
        "subjects.Participant", on_delete=models.PROTECT, related_name="queries"
    )
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="queries"
    )
    question = models.TextField(_("question"))
    raised_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    raised_at = models.DateTimeField(auto_now_add=True)
    answer = models.TextField(_("answer"), blank=True)
    answered_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    answered_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistory()

    class Meta:
        ordering = ["-raised_at"]
        verbose_name = _("data query")
        verbose_name_plural = _("data queries")

    def __str__(self) -> str:
        return f"{self.participant_id}: {self.question[:40]}"
