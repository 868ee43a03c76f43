"""The records a reviewer reads, queries and verifies: one entry per kind (protocol section 8).

Each kind names its model, the fields shown on its read view (the ones a query may point
at; those its service writes where the service names them), how it is labelled within its
participant, where the site edits it, and which of its rows are forms to verify (a visit
only once it is done or missed).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.db import models
from django.db.models import CharField, F, Q, QuerySet, Value
from django.db.models.functions import Cast, Concat
from django.urls import reverse

from infusions.services import INFUSION_DATA_FIELDS

from .models import QueryTarget
from .services import AE_DATA_FIELDS, CONMED_DATA_FIELDS


@dataclass(frozen=True)
class Target:
    kind: str
    model_label: str
    fields: tuple[str, ...]
    label: Callable[[Any], str]  # the record within its participant, e.g. "V2"
    label_expression: Callable[[], Any]  # the same in SQL, for set-based lists
    edit_url: Callable[[Any], str]
    forms_filter: Q = Q()
    # forms_filter for a record already loaded (a page that has a participant's records reads
    # their states without the SQL of sdv_forms); a test holds the two equal.
    is_form: Callable[[Any], bool] = lambda record: True
    related: tuple[str, ...] = ("participant",)
    dataset: str = ""  # the exported dataset its rows are in (exchange.datasets)

    @property
    def model(self) -> type[models.Model]:
        return apps.get_model(self.model_label)

    @property
    def view_permission(self) -> str:
        app, model = self.model_label.split(".")
        return f"{app}.view_{model}"

    @property
    def change_permission(self) -> str:
        app, model = self.model_label.split(".")
        return f"{app}.change_{model}"

    @property
    def verbose_name(self) -> str:
        return QueryTarget(self.kind).label

    def participant_id_of(self, record: Any) -> int:
        return record.pk if self.kind == QueryTarget.PARTICIPANT else record.participant_id

    def forms(self) -> models.QuerySet:
        """The rows of this kind that are forms to verify."""
        return self.model._default_manager.filter(self.forms_filter)

    def participant_id_expression(self) -> F:
        return F("pk") if self.kind == QueryTarget.PARTICIPANT else F("participant_id")

    def field_label(self, name: str) -> str:
        return str(self.model._meta.get_field(name).verbose_name)

    def keys(self, ids: Iterable[int] | QuerySet | None = None) -> dict[int, str]:
        """{pk: the record's natural key within its participant} (one query)."""
        rows = self.model._default_manager.order_by()
        if ids is not None:
            rows = rows.filter(pk__in=ids)
        return dict(rows.annotate(k=self.label_expression()).values_list("pk", "k"))


def _str(expression: Any) -> Cast:
    return Cast(expression, output_field=CharField())


def _platelet_edit(count: Any) -> str:
    if count.visit_id:
        return reverse("visits:edit", args=[count.visit_id])
    return reverse("visits:platelet_unscheduled", args=[count.participant_id])


TARGETS: dict[str, Target] = {
    t.kind: t
    for t in (
        Target(
            QueryTarget.PARTICIPANT,
            "subjects.participant",
            (
                "screening_number",
                "sex",
                "birth_date",
                "consent_date",
                "consent_version",
                "guardian_consent",
                "child_assent",
                "itp_diagnosis_date",
                "prior_therapies",
                "splenectomy",
                "splenectomy_date",
                "height_cm",
                "enrolled_on",
                "planned_first_infusion_date",
                "treatment_discontinued_date",
                "treatment_discontinued_reason",
                "withdrawal_date",
                "withdrawal_reason",
                "withdrawal_detail",
            ),
            lambda p: p.subject_id,
            lambda: _str(F("subject_id")),
            lambda p: reverse("subjects:edit", args=[p.pk]),
            related=(),
            dataset="subjects",
        ),
        Target(
            QueryTarget.ELIGIBILITY,
            "subjects.eligibilityanswer",
            ("criterion", "met"),
            lambda a: a.criterion,
            lambda: _str(F("criterion")),
            lambda a: reverse("subjects:eligibility", args=[a.participant_id]),
            dataset="eligibility",
        ),
        Target(
            QueryTarget.VISIT,
            "visits.visit",
            (
                "actual_date",
                "missed",
                "missed_reason",
                "weight_kg",
                "height_cm",
                "systolic_bp",
                "diastolic_bp",
                "heart_rate",
                "respiratory_rate",
                "temperature_c",
                "physical_exam_normal",
                "physical_exam_findings",
                "new_adverse_event",
                "medication_change",
            ),
            lambda v: v.code,
            lambda: _str(F("code")),
            lambda v: reverse("visits:edit", args=[v.pk]),
            forms_filter=Q(actual_date__isnull=False) | Q(missed=True),
            is_form=lambda v: v.actual_date is not None or v.missed,
            dataset="visits",
        ),
        Target(
            QueryTarget.INFUSION,
            "infusions.infusion",
            # What the service takes, less the vital signs before and after.
            tuple(f for f in INFUSION_DATA_FIELDS if not f.startswith(("pre_", "post_"))),
            lambda i: f"INF{i.number}",
            lambda: Concat(Value("INF"), _str(F("number")), output_field=CharField()),
            lambda i: reverse("infusions:record", args=[i.participant_id, i.number]),
            dataset="infusions",
        ),
        Target(
            QueryTarget.PLATELET,
            "visits.plateletcount",
            ("sample_date", "platelets", "who_bleeding_grade"),
            lambda c: c.sample_date.isoformat(),
            lambda: _str(F("sample_date")),
            _platelet_edit,
            dataset="platelets",
        ),
        Target(
            QueryTarget.ADVERSE_EVENT,
            "safety.adverseevent",
            AE_DATA_FIELDS,
            lambda e: f"AE{e.ae_number}",
            lambda: Concat(Value("AE"), _str(F("ae_number")), output_field=CharField()),
            lambda e: reverse("safety:ae_edit", args=[e.pk]),
            related=("participant", "related_infusion"),
            dataset="adverse_events",
        ),
        Target(
            QueryTarget.MEDICATION,
            "safety.concomitantmedication",
            CONMED_DATA_FIELDS,
            lambda m: f"{m.drug} {m.start_date.isoformat()}",
            lambda: Concat(F("drug"), Value(" "), _str(F("start_date")), output_field=CharField()),
            lambda m: reverse("safety:conmed_edit", args=[m.pk]),
            dataset="conmeds",
        ),
    )
}


def target_get(kind: str) -> Target | None:
    return TARGETS.get(kind)


def read_url(kind: str, object_id: int) -> str:
    return reverse("safety:record", args=[kind, object_id])
