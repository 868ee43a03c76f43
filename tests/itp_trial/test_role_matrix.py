"""Each role reaches exactly the pages meant for it: every URL of the project, every role."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from itp_trial import roles
from tests.factories import adverse_event_onset, enrolled, infused, paracetamol_given

C, I, M, D = roles.COORDINATOR, roles.INVESTIGATOR, roles.MONITOR, roles.DATA_MANAGER  # noqa: E741
EVERYONE = {C, I, M, D}
SITE = {C, I}

# url name -> (method, roles allowed). Everyone else must get 403.
MATRIX: dict[str, tuple[str, set[str]]] = {
    "home": ("get", EVERYONE),
    "password_change": ("get", EVERYONE),
    "password_change_done": ("get", EVERYONE),
    "subjects:list": ("get", EVERYONE),
    "subjects:detail": ("get", EVERYONE),
    "subjects:dashboard": ("get", EVERYONE),
    "subjects:overview": ("get", EVERYONE),
    "subjects:screen": ("get", SITE),
    "subjects:edit": ("get", SITE),
    "subjects:eligibility": ("get", EVERYONE),  # read-only checklist for reviewers
    "subjects:enrol": ("get", SITE),
    "subjects:withdraw": ("get", SITE),
    "subjects:discontinue": ("get", {I}),
    "subjects:sign": ("get", {I}),
    "subjects:lock": ("get", {D}),
    "subjects:unlock": ("post", {D}),
    "subjects:database_lock": ("get", {D}),
    "visits:worklist": ("get", SITE),
    "visits:edit": ("get", SITE),
    "visits:missed": ("get", SITE),
    "visits:platelet_unscheduled": ("get", SITE),
    "visits:platelet_edit": ("get", EVERYONE),  # the count with its history; SITE corrects
    "infusions:list": ("get", EVERYONE),
    "infusions:detail": ("get", EVERYONE),
    "infusions:record": ("get", SITE),
    "infusions:dose_preview": ("get", EVERYONE),  # a read-only calculator
    "safety:ae_list": ("get", EVERYONE),
    "safety:ae_detail": ("get", EVERYONE),
    "safety:ae_create": ("get", SITE),
    "safety:ae_edit": ("get", SITE),
    "safety:conmed_list": ("get", EVERYONE),
    "safety:conmed_create": ("get", SITE),
    "safety:conmed_edit": ("get", SITE),
    "safety:flags": ("get", EVERYONE),
    "safety:flag_acknowledge": ("post", {I, M}),
    "safety:queries": ("get", EVERYONE),
    "safety:query_create": ("get", {M, D}),
    "safety:query_answer": ("post", SITE),
    "safety:query_close": ("post", {M, D}),
    "safety:query_detail": ("get", EVERYONE),
    "safety:query_correct": ("get", SITE),  # to the record's edit page
    "safety:record": ("get", EVERYONE),  # the read view of any record
    "safety:record_query": ("get", {M, D}),
    "safety:record_verify": ("post", {M}),
    "safety:sdv_todo": ("get", EVERYONE),
    "exchange:exports": ("get", {M, D}),
    "exchange:export_zip": ("get", {M, D}),
    "exchange:export_dataset": ("get", {M, D}),
    "exchange:export_odm": ("get", {M, D}),
    "exchange:export_sdtm": ("get", {M, D}),
    "exchange:casebook": ("get", {M, D}),
    "exchange:import_platelets": ("get", {D}),
}
# Pages that write: who may POST to them (the others must get 403 and nothing written).
WRITES: dict[str, set[str]] = {
    "subjects:screen": SITE,
    "subjects:edit": SITE,
    "subjects:eligibility": SITE,
    "subjects:enrol": SITE,
    "subjects:withdraw": SITE,
    "subjects:discontinue": {I},
    "subjects:sign": {I},  # the investigator's signature
    "subjects:lock": {D},
    "subjects:unlock": {D},
    "subjects:database_lock": {D},
    "visits:edit": SITE,
    "visits:missed": SITE,
    "visits:platelet_unscheduled": SITE,
    "visits:platelet_edit": SITE,
    "infusions:record": SITE,
    "safety:ae_create": SITE,
    "safety:ae_edit": SITE,
    "safety:conmed_create": SITE,
    "safety:conmed_edit": SITE,
    "safety:flag_acknowledge": {I, M},
    "safety:query_create": {M, D},
    "safety:query_answer": SITE,
    "safety:query_close": {M, D},
    "safety:record_query": {M, D},
    "safety:record_verify": {M},
    "exchange:import_platelets": {D},
}
# Edit pages a reviewer is sent from to the record's read view (GET), instead of a 403.
READ_INSTEAD: dict[str, set[str]] = {
    "visits:edit": {M, D},
    "visits:missed": {M, D},
    "subjects:edit": {M, D},
    "safety:ae_edit": {M, D},
    "safety:conmed_edit": {M, D},
}
# Open to anyone, or ending the session: not part of the role matrix.
# language_set and javascript_catalog serve the login page too (issue 17).
PUBLIC = {"login", "logout", "healthz", "language_set", "javascript_catalog"}

NAV = {
    C: {
        "visits:worklist",
        "subjects:list",
        "subjects:screen",
        "subjects:overview",
        "safety:flags",
        "safety:queries",
    },
    I: {
        "visits:worklist",
        "subjects:list",
        "subjects:screen",
        "subjects:overview",
        "safety:flags",
        "safety:queries",
    },
    M: {
        "subjects:list",
        "subjects:overview",
        "safety:flags",
        "safety:queries",
        "safety:sdv_todo",
        "exchange:exports",
    },
    D: {
        "subjects:list",
        "subjects:overview",
        "safety:flags",
        "safety:queries",
        "exchange:exports",
        "exchange:import_platelets",
    },
}


def _url_names(resolver: URLResolver | None = None, namespace: str = "") -> set[str]:
    names = set()
    for pattern in (resolver or get_resolver()).url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == "admin":
                continue
            names |= _url_names(pattern, pattern.namespace or namespace)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(f"{namespace}:{pattern.name}" if namespace else pattern.name)
    return names


def test_it_declares_the_roles_of_every_url():
    assert _url_names() - PUBLIC == set(MATRIX)


@pytest.fixture
def trial(personas):
    """One participant with a record of every kind, so every URL has something to open."""
    from safety.checks import checks_run
    from safety.models import DataQuery, Flag
    from visits.services import platelet_record

    coordinator = personas[C]
    today = timezone.localdate()
    participant = enrolled(coordinator, planned=today - timedelta(days=10), today=today)
    infusion = infused(coordinator, participant, 1, on=today - timedelta(days=8))
    infused(coordinator, participant, 2, on=today - timedelta(days=1), actual=5_100_000_000)
    checks_run()
    event = adverse_event_onset(coordinator, participant, infusion=infusion, today=today)
    conmed = paracetamol_given(coordinator, participant, today=today)
    count = platelet_record(
        participant=participant,
        user=coordinator,
        sample_date=today - timedelta(days=2),
        platelets=45,
        who_bleeding_grade=0,
    )
    query = DataQuery.objects.create(
        participant=participant,
        number=1,
        object_id=participant.pk,
        question="Please confirm the weight.",
        raised_by=personas[M],
    )
    flag = Flag.objects.get(kind="dose_deviation")
    return {
        "participant_id": participant.pk,
        "visit_id": participant.visits.get(code="V2").pk,
        "count_id": count.pk,
        "number": 3,
        "infusion_id": infusion.pk,
        "ae_id": event.pk,
        "conmed_id": conmed.pk,
        "flag_pk": flag.pk,
        "query_pk": query.pk,
        "name": "subjects",
        "kind": "visit",
        "object_id": participant.visits.get(code="V2").pk,
    }


def _url(name: str, trial: dict) -> str:
    from django.urls import get_resolver as resolver_of

    kwargs = {}
    pattern_kwargs = _pattern_kwargs(name, resolver_of())
    for key in pattern_kwargs:
        if key == "pk":
            kwargs["pk"] = trial["flag_pk"] if name.startswith("safety:flag") else trial["query_pk"]
        else:
            kwargs[key] = trial[key]
    url = reverse(name, kwargs=kwargs)
    if name == "infusions:dose_preview":
        url += "?weight=60.0&actual=6000000000"
    return url


def _pattern_kwargs(name: str, resolver: URLResolver) -> list[str]:
    namespace, _, short = name.rpartition(":")
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            if pattern.namespace == namespace:
                for inner in _flat(pattern):
                    if getattr(inner, "name", None) == short:
                        return list(inner.pattern.converters)
        elif not namespace and getattr(pattern, "name", None) == short:
            return list(pattern.pattern.converters)
    raise AssertionError(f"no URL named {name}")


def _flat(resolver: URLResolver) -> list[URLPattern]:
    """A namespace's patterns, through the includes without a namespace of their own (a
    namespace served by an app's URLconf and the reporting pages beside it)."""
    patterns = []
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver) and not pattern.namespace:
            patterns += _flat(pattern)
        else:
            patterns.append(pattern)
    return patterns


@pytest.mark.django_db
@pytest.mark.parametrize("role", [C, I, M, D])
def test_it_gives_each_role_exactly_its_pages(client, personas, trial, role):
    client.force_login(personas[role])
    wrong = []
    for name, (method, allowed) in sorted(MATRIX.items()):
        response = getattr(client, method)(_url(name, trial))
        if role in allowed:
            ok = response.status_code < 400
        elif role in READ_INSTEAD.get(name, ()):
            ok = response.status_code == 302 and response["Location"].startswith("/safety/records/")
        else:
            ok = response.status_code == 403
        if not ok:
            wrong.append((name, response.status_code, "allowed" if role in allowed else "denied"))
    assert wrong == [], wrong


@pytest.mark.django_db
@pytest.mark.parametrize("role", [C, I, M, D])
def test_it_refuses_writes_to_the_roles_that_may_not_write(client, personas, trial, role):
    from itp_trial.roles import READ_MODELS

    def snapshot() -> int:
        from django.apps import apps

        # Clinical and review records: flags, queries, signatures and locks.
        return sum(apps.get_model(label).history.count() for label in READ_MODELS)

    client.force_login(personas[role])
    before = snapshot()
    wrong = []
    for name, allowed in sorted(WRITES.items()):
        if role in allowed:
            continue
        response = client.post(_url(name, trial), {})
        if response.status_code != 403:
            wrong.append((name, response.status_code))
    assert wrong == [], wrong
    assert snapshot() == before


@pytest.mark.django_db
@pytest.mark.parametrize("role", [C, I, M, D])
def test_it_shows_each_role_its_navigation(client, personas, role):
    client.force_login(personas[role])
    response = client.get(reverse("subjects:overview"))
    shown = {item["url_name"] for item in response.context["nav_items"]}
    assert shown == NAV[role]
    for name in NAV[role]:
        assert f'href="{reverse(name)}"'.encode() in response.content


@pytest.mark.django_db
def test_it_gives_a_user_without_a_role_no_clinical_page(client, django_user_model):
    user = django_user_model.objects.create_user("norole", password="x-Long-pass-42")
    client.force_login(user)
    assert client.get(reverse("subjects:list")).status_code == 403
    assert client.get(reverse("exchange:exports")).status_code == 403
