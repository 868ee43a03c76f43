from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from itp_trial import protocol
from itp_trial.audit import AuditedHistory, ClinicalModel
from itp_trial.choices import WindowStatus
from itp_trial.fields import vital_field
from itp_trial.text import interpolated

from . import response

VISIT_CODE_CHOICES = [(v.code, v.code) for v in protocol.VISITS]
# A visit's stored count of its platelet counts in each IWG category, by category.
VISIT_RESPONSE_FIELDS: dict[str, str] = {
    response.CR: "response_cr",
    response.R: "response_r",
    response.NR: "response_nr",
    response.NE: "response_ne",
}


class VitalSigns(models.Model):
    systolic_bp = vital_field("systolic_bp")
    diastolic_bp = vital_field("diastolic_bp")
    heart_rate = vital_field("heart_rate")
    respiratory_rate = vital_field("respiratory_rate")
    temperature_c = vital_field("temperature_c")

    class Meta:
        abstract = True


class Visit(ClinicalModel, VitalSigns):
    """One scheduled visit of one participant; a row exists for every visit of the schedule."""

    participant = models.ForeignKey(
        "subjects.Participant", on_delete=models.PROTECT, related_name="visits"
    )
    code = models.CharField(_("visit"), max_length=8, choices=VISIT_CODE_CHOICES)
    actual_date = models.DateField(_("visit date"), null=True, blank=True)
    missed = models.BooleanField(_("missed"), default=False)
    missed_reason = models.TextField(_("reason the visit was missed"), blank=True)

    weight_kg = models.DecimalField(
        _("weight (kg)"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[
            MinValueValidator(protocol.WEIGHT_RANGE_KG[0]),
            MaxValueValidator(protocol.WEIGHT_RANGE_KG[1]),
        ],
    )
    height_cm = models.DecimalField(
        _("height (cm)"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[
            MinValueValidator(protocol.HEIGHT_RANGE_CM[0]),
            MaxValueValidator(protocol.HEIGHT_RANGE_CM[1]),
        ],
    )
    physical_exam_normal = models.BooleanField(
        _("physical examination normal"), null=True, blank=True
    )
    physical_exam_findings = models.TextField(_("abnormal findings"), blank=True)
    new_adverse_event = models.BooleanField(
        _("any new adverse event since the last visit?"), null=True, blank=True
    )
    medication_change = models.BooleanField(
        _("any change of medication since the last visit?"), null=True, blank=True
    )

    # Derived by the schedule engine, stored for worklists and checks; kept in step by
    # visits.services.schedule_sync on every write that moves an anchor.
    target_date = models.DateField(null=True, blank=True, editable=False)
    window_start = models.DateField(null=True, blank=True, editable=False)
    window_end = models.DateField(null=True, blank=True, editable=False)
    provisional = models.BooleanField(default=False, editable=False)
    # No index of its own: the (window_status, window_end) index below serves every filter on
    # it, and each index more is written on every resync of a visit's window.
    window_status = models.CharField(
        max_length=16,
        choices=WindowStatus.choices,
        default=WindowStatus.PENDING,
        editable=False,
    )

    # Derived by the IWG rule and stored for the overview: how many of the platelet counts
    # entered at this visit fall in each category (visits.response, by
    # visits.services.responses_sync, with the counts' own response_category).
    response_cr = models.PositiveSmallIntegerField(default=0, editable=False)
    response_r = models.PositiveSmallIntegerField(default=0, editable=False)
    response_nr = models.PositiveSmallIntegerField(default=0, editable=False)
    response_ne = models.PositiveSmallIntegerField(default=0, editable=False)

    history = AuditedHistory(
        excluded_fields=[
            "target_date",
            "window_start",
            "window_end",
            "provisional",
            "window_status",
            "response_cr",
            "response_r",
            "response_nr",
            "response_ne",
        ]
    )

    class Meta:
        ordering = ["participant", "window_start", "id"]
        constraints = [
            models.UniqueConstraint(fields=["participant", "code"], name="visit_unique_code"),
        ]
        indexes = [
            models.Index(fields=["window_status", "window_end"]),
            # The worklist's open visits in its order (reporting.selectors.worklist): a page
            # is the index's first entries of a range, and a section's count reads the
            # index alone (the window's start is in it).
            models.Index(
                fields=["window_end", "participant", "id"],
                include=["window_start"],
                condition=models.Q(window_status__in=[WindowStatus.PENDING, WindowStatus.OVERDUE]),
                name="visit_open_window_end",
            ),
            # The worklist's visits due soon: those whose window opens in the next days.
            models.Index(
                fields=["window_start"],
                include=["window_end", "participant"],
                condition=models.Q(window_status__in=[WindowStatus.PENDING, WindowStatus.OVERDUE]),
                name="visit_open_window_start",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.code}"

    @property
    def definition(self) -> protocol.VisitDefinition:
        return protocol.VISITS_BY_CODE[self.code]


class PlateletCount(ClinicalModel):
    """A platelet count with the WHO bleeding grade, at a visit or as an unscheduled result."""

    participant = models.ForeignKey(
        "subjects.Participant", on_delete=models.PROTECT, related_name="platelet_counts"
    )
    visit = models.ForeignKey(
        Visit,
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="platelet_counts",
        help_text=_("Empty for an unscheduled result."),
    )
    sample_date = models.DateField(_("sample date"))
    platelets = models.PositiveIntegerField(
        _("platelets (10⁹/L)"),
        validators=[
            MinValueValidator(protocol.PLATELET_MIN),
            MaxValueValidator(protocol.PLATELET_MAX),
        ],
        help_text=interpolated(
            _("10⁹/L, %(low)s to %(high)s"), low=protocol.PLATELET_MIN, high=protocol.PLATELET_MAX
        ),
    )
    who_bleeding_grade = models.PositiveSmallIntegerField(
        _("WHO bleeding grade"),
        null=True,
        blank=True,
        validators=[
            MinValueValidator(protocol.WHO_BLEEDING_MIN),
            MaxValueValidator(protocol.WHO_BLEEDING_MAX),
        ],
        help_text=_(
            "0 none, 1 petechiae, 2 mild blood loss, 3 gross blood loss, "
            "4 debilitating, retinal or cerebral, or fatal."
        ),
    )

    # Derived by the IWG rule (visits.response.response_summarise), stored for the overview
    # and the exports; kept in step by visits.services.responses_sync on every write that
    # changes a participant's counts, infusion 1 or rescue therapy. Empty for a count on or
    # before infusion 1 (not an assessment), else CR, R, NR or NE.
    response_category = models.CharField(max_length=2, blank=True, default="", editable=False)

    history = AuditedHistory(excluded_fields=["response_category"])

    class Meta:
        ordering = ["participant", "sample_date"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "sample_date"], name="platelet_one_per_day"
            ),
            models.CheckConstraint(
                condition=models.Q(platelets__lte=protocol.PLATELET_MAX), name="platelet_range"
            ),
            models.CheckConstraint(
                condition=models.Q(who_bleeding_grade__isnull=True)
                | models.Q(who_bleeding_grade__lte=protocol.WHO_BLEEDING_MAX),
                name="bleeding_grade_range",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} {self.sample_date} {self.platelets}"


class ParticipantResponse(models.Model):
    """A participant's IWG response as `visits.response.response_summarise` gives it, stored.

    Derived and recomputable (no history, no version): `visits.services.responses_sync`
    keeps it in step on every write that changes the response's inputs. One row per
    participant once it has been synced; best_response is NE before infusion 1.
    """

    participant = models.OneToOneField(
        "subjects.Participant",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="stored_response",
    )
    baseline_platelets = models.PositiveIntegerField(null=True, blank=True)
    best_response = models.CharField(max_length=2, db_index=True)
    time_to_response_days = models.IntegerField(null=True, blank=True)
    response_start = models.DateField(null=True, blank=True)
    response_lost_on = models.DateField(null=True, blank=True)
    response_duration_days = models.IntegerField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.participant_id} {self.best_response}"
