# ruff: noqa: E501  (the templates' loops, kept here verbatim)
"""The participant page's and dashboard's tables, rendered a row at a time in Python
(reporting/templatetags/page_rows.py), write the markup the templates' loops wrote.

Each loop is kept here as it was in the templates and rendered with the same context; the
two must be the same HTML (up to whitespace between tags), for every role: with and
without the permissions that add the rows' links.
"""

from __future__ import annotations

import re
from datetime import date

import pytest
import time_machine
from django.contrib.auth.context_processors import PermWrapper
from django.template import engines
from django.urls import reverse
from django.utils import translation

from tests.factories import screened

from .dashboard_data import TODAY, ae_add, at, dashboard_participant, treated

pytestmark = pytest.mark.django_db

SCHEDULE = """{% load dates i18n %}{% with p=participant %}
{% with can_change_visit=perms.visits.change_visit %}
{% for row in page.schedule %}{% with s=row.scheduled %}
  <tr class="status-{{ s.status }}" data-visit="{{ s.code }}" data-status="{{ s.status }}">
    <td><strong>{{ s.code }}</strong> {{ row.name }}</td>
    <td data-field="target">{% if s.target %}<span class="{% if s.provisional %}provisional{% endif %}">{{ s.target|iso }}</span>{% else %}—{% endif %}</td>
    <td data-field="window">{% if s.window_start %}<span data-field="window_start">{{ s.window_start|iso }}</span> – <span data-field="window_end">{{ s.window_end|iso }}</span>{% else %}—{% endif %}</td>
    <td data-field="actual">{{ s.actual_date|iso|default:"—" }}{% if s.missed %} <span title="{{ row.visit.missed_reason }}">({% translate "missed" %})</span>{% endif %}</td>
    <td data-field="status"><span class="d-inline-block px-2 rounded status-{{ s.status }}">{{ row.status_label }}</span></td>
    <td class="text-end" data-field="study_day">{{ s.study_day|default_if_none:"" }}</td>
    <td class="text-nowrap">
      {% if can_change_visit and s.status != "not_expected" %}
        {% if row.is_infusion %}
          {% if not s.actual_date and not s.provisional and not p.withdrawal_date %}<a class="btn btn-sm btn-outline-primary" href="{% url 'visits:edit' row.visit.pk %}" data-action="infusion">{% translate "Record infusion" %}</a>{% endif %}
        {% else %}
          <a class="btn btn-sm btn-outline-primary" href="{% url 'visits:edit' row.visit.pk %}" data-action="enter">{% if s.actual_date %}{% translate "Edit" %}{% else %}{% translate "Enter" %}{% endif %}</a>
          {% if not s.actual_date %}<a class="btn btn-sm btn-outline-secondary" href="{% url 'visits:missed' row.visit.pk %}" data-action="missed">{% if s.missed %}{% translate "Missed reason" %}{% else %}{% translate "Mark missed" %}{% endif %}</a>{% endif %}
        {% endif %}
      {% endif %}
    </td>
  </tr>
{% endwith %}{% endfor %}
{% endwith %}{% endwith %}"""

PARTICIPANT_PLATELETS = """{% load dates i18n %}
{% for row in page.platelets_page %}
  <tr data-sample="{{ row.count.sample_date|iso }}">
    <td>{{ row.count.sample_date|iso }}</td>
    <td class="text-end">{{ row.study_day|default_if_none:"" }}</td>
    <td>{{ row.visit_code }}</td>
    <td class="text-end">{{ row.count.platelets }}</td>
    <td class="text-end">{{ row.count.who_bleeding_grade|default_if_none:"—" }}</td>
    <td data-field="category">{{ row.category|default:"—" }}</td>
    <td class="text-end"><a href="{% url 'visits:platelet_edit' row.count.pk %}" data-testid="platelet-edit">{{ count_action }}<span class="visually-hidden"> {{ row.count.sample_date|iso }}</span></a></td>
  </tr>
{% empty %}
  <tr><td colspan="7" class="text-muted">{% translate "No platelet count yet." %}</td></tr>
{% endfor %}"""

REVIEW = """{% load i18n %}
{% translate "Read" as read_label %}
{% for f in review_forms %}
  <tr data-form="{{ f.r_kind }} {{ f.r_label }}">
    <td>{{ f.kind_label }}</td><td>{{ f.r_label }}</td>
    <td>{% if f.open_queries %}<span class="badge text-bg-warning">⚑ {{ f.open_queries }}</span>{% else %}—{% endif %}</td>
    <td>{% include "safety/_sdv_state.html" with state=f.state %}</td>
    <td><a class="btn btn-sm btn-outline-secondary" href="{% url 'safety:record' f.r_kind f.pk %}" data-testid="read">{{ read_label }}</a></td>
  </tr>
{% endfor %}"""

TIMELINE = """{% load dates i18n l10n %}
{% with can_change_visit=perms.visits.change_visit %}
{% for row in d.timeline %}{% with v=row.visit %}
  <tr data-visit="{{ v.code }}" data-status="{{ v.status }}">
    <th scope="row" class="text-nowrap">{% if can_change_visit and row.visit_id %}{% url 'visits:edit' row.visit_id as visit_url %}{% endif %}{% if visit_url %}<a href="{{ visit_url }}">{{ v.code }}</a>{% else %}{{ v.code }}{% endif %} <span class="small fw-normal text-muted d-none d-lg-inline">{{ row.name }}</span></th>
    <td class="text-nowrap small{% if v.provisional %} provisional{% endif %}">{% if v.window_start %}{{ v.window_start|iso }} – {{ v.window_end|iso }}{% if v.provisional %} <span class="visually-hidden">({% translate "provisional" %})</span>*{% endif %}{% else %}—{% endif %}</td>
    <td class="text-nowrap small">{{ v.actual_date|iso|default:"—" }}</td>
    <td class="small">{{ v.study_day|default_if_none:"—" }}</td>
    <td><span class="badge text-body status-{{ v.status }}" data-testid="visit-status">{{ row.status_label }}</span></td>
    <td>
      <div class="timeline-track" aria-hidden="true">{% localize off %}
        {% if row.band_left is not None %}<div class="timeline-band status-{{ v.status }}" style="left: {{ row.band_left }}%; width: {{ row.band_width }}%"></div>{% endif %}
        {% if d.today_left is not None %}<div class="timeline-today" style="left: {{ d.today_left }}%"></div>{% endif %}
        {% if row.mark_left is not None %}<div class="timeline-mark{% if row.done %} done{% endif %}" style="left: {{ row.mark_left }}%"></div>{% endif %}
      {% endlocalize %}</div>
    </td>
  </tr>
{% endwith %}{% endfor %}
{% endwith %}"""

DASHBOARD_PLATELETS = """{% load dates i18n %}
{% for row in d.platelets_page %}
  <tr data-date="{{ row.count.sample_date|iso }}">
    <td class="text-nowrap">{{ row.count.sample_date|iso }}</td>
    <td>{{ row.study_day|default_if_none:"—" }}</td>
    <td>{{ row.visit_code }}</td>
    <td class="text-end">{{ row.count.platelets }}</td>
    <td>{{ row.count.who_bleeding_grade|default_if_none:"—" }}</td>
    <td>{% if row.assessment %}{{ row.assessment.category }}{% if not row.assessment.evaluable %} <span class="small text-muted">({% translate "rescue" %})</span>{% endif %}{% else %}<span class="text-muted">{% translate "before infusion 1" %}</span>{% endif %}</td>
    <td class="text-end"><a href="{% url 'visits:platelet_edit' row.count.pk %}">{{ count_action }}<span class="visually-hidden"> {{ row.count.sample_date|iso }}</span></a></td>
  </tr>
{% empty %}
  <tr><td colspan="7" class="text-muted">{% translate "No platelet count yet." %}</td></tr>
{% endfor %}"""

INFUSIONS = """{% load dates humanize i18n %}
    {% for row in d.infusions %}{% with i=row.infusion %}
      <tr data-infusion="{{ i.number }}">
        <th scope="row">{{ i.number }}</th>
        <td class="text-nowrap">{{ i.infusion_date|iso }}</td>
        <td>{{ row.study_day }}</td>
        <td class="text-end">{{ i.dosing_weight_kg }}</td>
        <td class="text-end font-monospace">{{ row.dose.planned_cells|intcomma }}</td>
        <td class="text-end font-monospace">{{ i.actual_cells|intcomma }}</td>
        <td class="text-end">{{ row.dose.deviation_pct }} %{% if row.dose.deviation %} <span class="badge text-bg-warning">{% translate "dose deviation" %}</span>{% endif %}</td>
        <td class="text-nowrap">{{ i.lot_number }}</td>
        <td>{% if i.reaction %}<span class="badge text-bg-danger">{% translate "yes" %}</span>{% else %}{% translate "no" %}{% endif %}{% if i.interrupted %} <span class="badge text-bg-warning">{% translate "interrupted" %}</span>{% endif %}</td>
        <td>{% url 'infusions:detail' i.pk as infusion_url %}{% if infusion_url %}<a href="{{ infusion_url }}">{% translate "Record and history" %}</a>{% endif %}</td>
      </tr>
    {% endwith %}{% empty %}
      <tr><td colspan="10" class="text-muted">{% translate "No infusion given yet." %}</td></tr>
    {% endfor %}"""

ADVERSE_EVENTS = """{% load dates i18n %}
    {% for row in d.adverse_events %}{% with e=row.event c=row.clock %}
      <tr data-ae="{{ e.ae_number }}">
        <th scope="row">{{ e.ae_number }}</th>
        <td>{{ e.term }}{% if row.treatment_emergent %} <span class="badge text-bg-info" title="{% translate 'onset on or after infusion 1' %}">{% translate "TEAE" %}</span>{% endif %}</td>
        <td class="text-nowrap">{{ e.onset_date|iso }}{% if row.onset_study_day is not None %} <span class="small text-muted">({% blocktranslate with day=row.onset_study_day %}day {{ day }}{% endblocktranslate %})</span>{% endif %}</td>
        <td>{{ e.ctcae_grade }}</td>
        <td>{% if e.serious %}<span class="badge text-bg-danger">{% translate "serious" %}</span>{% else %}{% translate "no" %}{% endif %}</td>
        <td>{{ e.get_relationship_display }}</td>
        <td>{{ e.get_outcome_display }}{% if e.ongoing %} <span class="small text-muted">({% translate "ongoing" %})</span>{% endif %}</td>
        <td class="small">{% include "safety/_sae_clock.html" with sae=row.sae %}{% if c.applicable and not c.reported %} <span class="text-body-secondary text-nowrap">({% translate "due" %} {{ c.due_at|date:"Y-m-d H:i" }})</span>{% elif c.reported %} <span class="text-nowrap">{{ e.reported_at|date:"Y-m-d H:i" }}</span>{% endif %}</td>
        <td>{% url 'safety:ae_detail' e.pk as ae_url %}{% if ae_url %}<a href="{{ ae_url }}">{% translate "Record and history" %}</a>{% endif %}</td>
      </tr>
    {% endwith %}{% empty %}
      <tr><td colspan="9" class="text-muted">{% translate "No adverse event." %}</td></tr>
    {% endfor %}"""

TAGS = {
    SCHEDULE: "{% schedule_rows page.schedule participant=participant "
    "can_change_visit=perms.visits.change_visit %}",
    PARTICIPANT_PLATELETS: "{% participant_platelet_rows page.platelets_page action=count_action %}",
    REVIEW: "{% review_rows review_forms %}",
    TIMELINE: "{% timeline_rows d.timeline today_left=d.today_left "
    "can_change_visit=perms.visits.change_visit %}",
    DASHBOARD_PLATELETS: "{% dashboard_platelet_rows d.platelets_page action=count_action %}",
    INFUSIONS: "{% infusion_rows d.infusions %}",
    ADVERSE_EVENTS: "{% adverse_event_rows d.adverse_events %}",
}
DASHBOARD_TABLES = (TIMELINE, DASHBOARD_PLATELETS, INFUSIONS, ADVERSE_EVENTS)


def html(text: str) -> str:
    """The markup up to whitespace: runs of it as one space, none between tags."""
    return re.sub(r">\s+<", "><", re.sub(r"\s+", " ", text)).strip()


def rendered(source: str, context: dict) -> str:
    return html(engines["django"].from_string(source).render(context))


def contexts(client, user, participant) -> list[dict]:
    client.force_login(user)
    perms = PermWrapper(user)
    action = "Correct" if user.has_perm("visits.change_plateletcount") else "History"
    out = []
    for name in ("subjects:detail", "subjects:dashboard"):
        response = client.get(reverse(name, args=[participant.pk]))
        assert response.status_code == 200
        out.append({**response.context[0].flatten(), "perms": perms, "count_action": action})
    return out


@pytest.mark.parametrize("language", ["en", "zh-hans"])
def test_the_rows_in_python_are_the_templates_rows(client, personas, coordinator, language):
    with time_machine.travel(at(TODAY, 12), tick=False):
        followed = dashboard_participant(coordinator)  # missed, late, rescue, every section
        # Two infusions given: the third is the next to record, the rest provisional.
        on_treatment = treated(
            coordinator, first=date(2026, 3, 2), consent=date(2026, 2, 16), infusions=2
        )
        # A serious event still ongoing, its report not yet due: the clock's deadline shown.
        ae_add(
            on_treatment,
            coordinator,
            term="Thrombosis <left leg>",
            ctcae_grade=3,
            serious=True,
            serious_criteria="hospitalisation",
            ongoing=True,
            outcome="recovering",
            onset_date=TODAY,
            awareness_at=at(TODAY, 9),
            now=at(TODAY, 12),
        )
        screening = screened(coordinator, today=TODAY)  # no infusion, no event: empty tables
        for participant in (followed, on_treatment, screening):
            for role, user in personas.items():
                detail, dashboard = contexts(client, user, participant)
                with translation.override(language):
                    for source, tag in TAGS.items():
                        context = dashboard if source in DASHBOARD_TABLES else detail
                        expected = rendered(source, context)
                        assert "<tr" in expected, (role, tag)
                        if source == ADVERSE_EVENTS:  # each branch of the SAE clock's cell
                            assert {
                                followed: 'class="text-nowrap">2026-01-26 12:00',  # reported
                                on_treatment: "&lt;left leg&gt;",  # escaped, its deadline shown
                                screening: "text-muted",  # no event
                            }[participant] in expected
                            if participant is on_treatment:
                                assert "2026-06-02 09:00)" in expected
                        assert rendered("{% load page_rows %}" + tag, context) == expected, (
                            role,
                            tag,
                        )


def test_the_page_loads_a_participant_as_the_prefetches_did(coordinator, django_assert_num_queries):
    from django.db.models import Prefetch

    from reporting.selectors.common import open_flags_prefetch, participant_for_page
    from safety.models import AdverseEvent
    from subjects.models import EligibilityAnswer, Participant
    from visits.models import PlateletCount
    from visits.selectors import participants_with_schedule

    with time_machine.travel(at(TODAY, 12), tick=False):
        followed = dashboard_participant(coordinator)
    prefetched = (
        participants_with_schedule(Participant.objects.filter(pk=followed.pk))
        .select_related("stored_response")
        .prefetch_related(
            Prefetch("platelet_counts", queryset=PlateletCount.objects.order_by("sample_date")),
            Prefetch(
                "eligibility_answers", queryset=EligibilityAnswer.objects.order_by("criterion")
            ),
            Prefetch("adverse_events", queryset=AdverseEvent.objects.order_by("ae_number")),
            "conmeds",
            open_flags_prefetch(),
        )
        .get()
    )
    with django_assert_num_queries(8):  # the participant, six relations, the open flags
        loaded = participant_for_page(followed.pk)
    with django_assert_num_queries(0):  # everything below is read from what is loaded
        assert loaded == prefetched
        assert loaded.stored_response == prefetched.stored_response
        for name in (
            "visits",
            "infusions",
            "platelet_counts",
            "eligibility_answers",
            "adverse_events",
            "conmeds",
        ):
            rows = list(getattr(loaded, name).all())
            assert [(r.pk, r.version) for r in rows] == [
                (r.pk, r.version) for r in getattr(prefetched, name).all()
            ], name
            assert all(r.participant is loaded for r in rows), name
        assert [f.pk for f in loaded.open_flags] == [f.pk for f in prefetched.open_flags]
        assert loaded.open_flags, "the participant has open flags to compare"
        assert all(f.participant is loaded for f in loaded.open_flags)
    assert participant_for_page(0) is None


@pytest.mark.parametrize("prefix", ["/", "/trial/"])
def test_a_link_is_the_url_tags_url(prefix):
    from django.urls import set_script_prefix

    names = (
        "subjects:dashboard",
        "subjects:detail",
        "subjects:sign",
        "infusions:list",
        "safety:ae_list",
        "exchange:casebook",
    )
    set_script_prefix(prefix)
    try:
        for pk in (1, 42, 123456):
            for name in names:
                context = {"pk": pk, "name": name}
                expected = rendered("{% url name pk %}", context)
                assert expected.startswith(prefix)
                assert rendered("{% load page_rows %}{% link name pk %}", context) == expected
    finally:
        set_script_prefix("/")
