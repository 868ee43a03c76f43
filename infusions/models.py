from __future__ import annotations

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from itp_trial import protocol
from itp_trial.audit import AuditedHistory, ClinicalModel
from itp_trial.fields import vital_field


def _in_force(label: object, help_text: object, *, digits: tuple[int, int]) -> models.Field:
    max_digits, decimal_places = digits
    return models.DecimalField(
        label,
        max_digits=max_digits,
        decimal_places=decimal_places,
        editable=False,
        help_text=help_text,
    )


class Infusion(ClinicalModel):
    """One MSC infusion (V3-INFn); its date is the actual date of the infusion visit."""

    participant = models.ForeignKey(
        "subjects.Participant", on_delete=models.PROTECT, related_name="infusions"
    )
    number = models.PositiveSmallIntegerField(
        _("infusion number"),
        validators=[MinValueValidator(1), MaxValueValidator(protocol.INFUSION_COUNT)],
    )
    infusion_date = models.DateField(_("infusion date"))
    start_time = models.TimeField(_("start time"), null=True, blank=True)
    end_time = models.TimeField(_("end time"), null=True, blank=True)
    dosing_weight_kg = models.DecimalField(
        _("dosing weight (kg)"),
        max_digits=4,
        decimal_places=1,
        validators=[
            MinValueValidator(protocol.DOSING_WEIGHT_MIN_KG),
            MaxValueValidator(protocol.DOSING_WEIGHT_MAX_KG),
        ],
        help_text=_("Measured at this visit, before the infusion; one decimal."),
    )
    # The protocol's dose rule in force when the infusion was first recorded, kept with it
    # so that a later protocol change re-judges no infusion (infusions.services).
    dose_per_kg = _in_force(
        _("dose per kg (cells)"),
        _("The protocol dose in force when the infusion was recorded."),
        digits=(20, 0),
    )
    dose_tolerance_pct = _in_force(
        _("dose tolerance (%)"),
        _("The dose tolerance in force when the infusion was recorded."),
        digits=(5, 2),
    )
    # Derived by infusions.dosing at save time and stored, so the checks can find deviations
    # with one query; the infusion service keeps them in step.
    planned_cells = models.PositiveBigIntegerField(_("planned cells"), editable=False)
    dose_deviation = models.BooleanField(_("dose deviation"), default=False, editable=False)
    actual_cells = models.PositiveBigIntegerField(
        _("actual cells infused"), help_text=_("The number of MSC actually infused.")
    )
    lot_number = models.CharField(_("product lot"), max_length=64)
    viability_pct = models.DecimalField(
        _("viability (%)"),
        max_digits=4,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[
            MinValueValidator(protocol.VIABILITY_MIN_PCT),
            MaxValueValidator(protocol.VIABILITY_MAX_PCT),
        ],
    )
    volume_ml = models.DecimalField(
        _("volume (mL)"),
        max_digits=6,
        decimal_places=1,
        null=True,
        blank=True,
        validators=[MinValueValidator(0), MaxValueValidator(protocol.INFUSION_VOLUME_MAX_ML)],
    )
    pre_systolic_bp = vital_field("systolic_bp", "before")
    pre_diastolic_bp = vital_field("diastolic_bp", "before")
    pre_heart_rate = vital_field("heart_rate", "before")
    pre_temperature_c = vital_field("temperature_c", "before")
    post_systolic_bp = vital_field("systolic_bp", "after")
    post_diastolic_bp = vital_field("diastolic_bp", "after")
    post_heart_rate = vital_field("heart_rate", "after")
    post_temperature_c = vital_field("temperature_c", "after")
    interrupted = models.BooleanField(_("infusion interrupted"), default=False)
    reaction = models.BooleanField(
        _("infusion reaction"),
        default=False,
        help_text=_("A reaction is recorded as an adverse event linked to this infusion."),
    )

    history = AuditedHistory()

    class Meta:
        ordering = ["participant", "number"]
        constraints = [
            models.UniqueConstraint(
                fields=["participant", "number"], name="infusion_unique_number"
            ),
            models.CheckConstraint(
                condition=models.Q(number__gte=1) & models.Q(number__lte=protocol.INFUSION_COUNT),
                name="infusion_number_range",
            ),
            models.CheckConstraint(
                condition=models.Q(dosing_weight_kg__gt=0), name="infusion_weight_positive"
            ),
        ]
        indexes = [
            # The overview's page of deviating infusions: the few among 50,000, not a scan.
            models.Index(
                fields=["participant", "number"],
                condition=models.Q(dose_deviation=True),
                name="infusion_deviating",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.participant_id} INF{self.number}"

    @property
    def visit_code(self) -> str:
        return protocol.INFUSION_VISIT_CODES[self.number]
