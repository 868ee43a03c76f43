from __future__ import annotations

from django.conf import settings
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from itp_trial import protocol
from itp_trial.audit import AuditedHistory, ClinicalModel, VersionedModel
from itp_trial.text import interpolated


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
    term = models.CharField(
        _("term"),
        max_length=200,
        help_text=interpolated(_("CTCAE v%(version)s term."), version=protocol.CTCAE_VERSION),
    )
    onset_date = models.DateField(_("onset date"))
    end_date = models.DateField(_("end date"), null=True, blank=True)
    ongoing = models.BooleanField(_("ongoing"), default=False)
    ctcae_grade = models.PositiveSmallIntegerField(
        _("CTCAE grade"),
        validators=[
            MinValueValidator(protocol.CTCAE_GRADE_MIN),
            MaxValueValidator(protocol.CTCAE_GRADE_MAX),
        ],
        help_text=interpolated(
            _("CTCAE v%(version)s: 1 mild, 2 moderate, 3 severe, 4 life-threatening, 5 death."),
            version=protocol.CTCAE_VERSION,
        ),
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
        help_text=interpolated(
            _("For a serious event: when it was reported (due within %(hours)s hours)."),
            hours=protocol.SAE_REPORT_HOURS,
        ),
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
        indexes = [
            # The SAE report clocks still running (safety.triage.sae_clocks_running), on
            # every worklist: the few unreported serious events, not every event.
            models.Index(
                fields=["awareness_at", "id"],
                condition=models.Q(serious=True, reported_at__isnull=True),
                name="ae_sae_unreported",
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
        help_text=interpolated(
            _(
                "IVIg, platelet transfusion, high-dose steroids or a TPO-RA started on study: "
                "platelet assessments in the %(days)s days from its start are not evaluable."
            ),
            days=protocol.RESCUE_NOT_EVALUABLE_DAYS,
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
    SIGNATURE_STALE = "signature_stale", _("Signature stale")


class FlagStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")
    ACKNOWLEDGED = "acknowledged", _("Acknowledged")


# The status of a flag as a filter, in the precedence of Flag.status: acknowledged first.
# FLAG_OPEN is the one definition of an open flag for every page, count and list.
FLAG_STATUS_FILTERS: dict[str, models.Q] = {
    FlagStatus.OPEN: models.Q(resolved_at__isnull=True, acknowledged_at__isnull=True),
    FlagStatus.RESOLVED: models.Q(resolved_at__isnull=False, acknowledged_at__isnull=True),
    FlagStatus.ACKNOWLEDGED: models.Q(acknowledged_at__isnull=False),
}
FLAG_OPEN = FLAG_STATUS_FILTERS[FlagStatus.OPEN]

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
    # The triage order of safety.triage, stored so that a page of open flags in that order
    # is the first entries of an index rather than a sort of every open flag. Derived and
    # recomputable (no history, no version): the rank of the kind, the event's awareness
    # (an SAE report flag) and the visit's window end (a visit flag), as `triage_key` reads
    # them from the records; `safety.checks.triage_keys_sync` keeps them in step on every
    # checks run, which follows every write.
    triage_rank = models.PositiveSmallIntegerField(db_default=9, editable=False)  # OTHER_RANK
    triage_aware_at = models.DateTimeField(null=True, blank=True, editable=False)
    triage_window_end = models.DateField(null=True, blank=True, editable=False)

    history = AuditedHistory(
        excluded_fields=["triage_rank", "triage_aware_at", "triage_window_end"]
    )

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
            # A participant-level flag (a stale signature): one open at a time.
            models.UniqueConstraint(
                fields=["kind", "participant"],
                condition=models.Q(
                    visit__isnull=True,
                    infusion__isnull=True,
                    adverse_event__isnull=True,
                    resolved_at__isnull=True,
                ),
                name="flag_unique_open_participant",
            ),
        ]
        indexes = [
            models.Index(fields=["kind", "resolved_at", "acknowledged_at"]),
            # The flags list's order, newest first, paginated: an index scan, not a sort.
            models.Index(fields=["-raised_at", "-id"], name="flag_raised_at"),
            # The same order for the open flags alone, the list's default filter: its page
            # is the index's first entries, whatever the planner knows of the table.
            models.Index(
                fields=["-raised_at", "-id"], condition=FLAG_OPEN, name="flag_open_raised_at"
            ),
            # The open flags in triage order (safety.triage.triage_order): the worklist's
            # first flags are the index's first entries. PostgreSQL's ascending b-tree puts
            # NULLs last, as the order asks.
            models.Index(
                fields=["triage_rank", "triage_aware_at", "triage_window_end", "raised_at", "id"],
                condition=FLAG_OPEN,
                name="flag_open_triage",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.participant_id}"

    @property
    def detail_display(self) -> str:
        """The stored (English) detail in the reader's language (safety.flag_text)."""
        from .flag_text import detail_display

        return detail_display(self.detail)

    @property
    def status(self) -> str:
        """The status of one loaded flag: FLAG_STATUS_FILTERS, read on the instance."""
        if self.acknowledged_at is not None:
            return FlagStatus.ACKNOWLEDGED
        if self.resolved_at is not None:
            return FlagStatus.RESOLVED
        return FlagStatus.OPEN


class QueryTarget(models.TextChoices):
    """The kinds of record a query or a verification is about."""

    PARTICIPANT = "participant", _("Participant")
    ELIGIBILITY = "eligibility", _("Eligibility answer")
    VISIT = "visit", _("Visit")
    INFUSION = "infusion", _("Infusion")
    PLATELET = "platelet", _("Platelet count")
    ADVERSE_EVENT = "adverse_event", _("Adverse event")
    MEDICATION = "conmed", _("Concomitant medication")


class QueryState(models.TextChoices):
    OPEN = "open", _("Open")
    ANSWERED = "answered", _("Answered")
    CLOSED = "closed", _("Closed")


class DataQuery(VersionedModel):
    """A reviewer's question about one field of one record, answered by the site.

    The record is named by its kind and id (`target_kind`, `object_id`) and the field by its
    model name (`field_name`, empty for the record as a whole). `number` counts the
    participant's queries in the order raised. `target_version` is the record's version
    when the query was raised, so that a correction since is seen without asking.
    """

    # A locked casebook takes no new query or answer (itp_trial.locks).
    lock_participant = "participant_id"
    participant = models.ForeignKey(
        "subjects.Participant", on_delete=models.PROTECT, related_name="queries"
    )
    number = models.PositiveIntegerField(_("query number"), default=0)
    target_kind = models.CharField(
        _("record kind"),
        max_length=16,
        choices=QueryTarget.choices,
        default=QueryTarget.PARTICIPANT,
    )
    object_id = models.PositiveBigIntegerField(_("record id"), null=True, blank=True)
    field_name = models.CharField(_("field"), max_length=64, blank=True)
    target_version = models.PositiveIntegerField(_("record version when raised"), default=1)
    visit = models.ForeignKey(
        "visits.Visit", on_delete=models.PROTECT, null=True, blank=True, related_name="queries"
    )
    state = models.CharField(
        _("state"), max_length=10, choices=QueryState.choices, default=QueryState.OPEN
    )
    due_date = models.DateField(
        _("due date"), null=True, blank=True, help_text=_("When the site should answer by.")
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
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    closed_at = models.DateTimeField(null=True, blank=True)

    history = AuditedHistory()

    class Meta:
        ordering = ["-raised_at"]
        verbose_name = _("data query")
        verbose_name_plural = _("data queries")
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "number"],
                condition=models.Q(number__gt=0),
                name="dataquery_unique_number",
            ),
        ]
        indexes = [
            models.Index(fields=["state", "participant"]),
            models.Index(fields=["target_kind", "object_id", "state"]),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} Q{self.number}: {self.question[:40]}"

    @property
    def field_label(self) -> str:
        """The queried field's label (empty for the record as a whole)."""
        from .targets import target_get

        target = target_get(self.target_kind)
        if target is None or not self.field_name:
            return ""
        return target.field_label(self.field_name)


class QueryMessageKind(models.TextChoices):
    QUESTION = "question", _("Question")
    ANSWER = "answer", _("Answer")
    CLOSE = "close", _("Closed")
    REOPEN = "reopen", _("Re-opened")


class QueryMessage(VersionedModel):
    """One turn of a query's conversation: the question, each answer, closing, re-opening."""

    query = models.ForeignKey(DataQuery, on_delete=models.PROTECT, related_name="messages")
    kind = models.CharField(_("kind"), max_length=10, choices=QueryMessageKind.choices)
    body = models.TextField(_("message"), blank=True)
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(_("at"))

    history = AuditedHistory()

    class Meta:
        ordering = ["query", "at", "id"]
        verbose_name = _("query message")

    def __str__(self) -> str:
        return f"{self.query_id} {self.kind}"


class Verification(VersionedModel):
    """Source data verification of one record (one form): verified at `verified_version`.

    The record is verified while its own `version` equals `verified_version`; any later
    save moves its version on, and it reads as changed since verification (no write needed).
    """

    # A locked casebook is not verified again (itp_trial.locks).
    lock_participant = "participant_id"
    participant = models.ForeignKey(
        "subjects.Participant", on_delete=models.PROTECT, related_name="verifications"
    )
    target_kind = models.CharField(_("record kind"), max_length=16, choices=QueryTarget.choices)
    object_id = models.PositiveBigIntegerField(_("record id"))
    verified_version = models.PositiveIntegerField(_("verified version"))
    verified_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    verified_at = models.DateTimeField(_("verified at"))

    history = AuditedHistory()

    class Meta:
        ordering = ["participant", "target_kind", "object_id"]
        verbose_name = _("source data verification")
        constraints = [
            models.UniqueConstraint(
                fields=["target_kind", "object_id"], name="verification_unique_record"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.target_kind} {self.object_id} v{self.verified_version}"
