from django.urls import path

from .views import events, flags, queries, records

app_name = "safety"

urlpatterns = [
    path("participant/<int:participant_id>/events/", events.ae_list, name="ae_list"),
    path("participant/<int:participant_id>/events/new/", events.ae_create, name="ae_create"),
    path("events/<int:ae_id>/", events.ae_detail, name="ae_detail"),
    path("events/<int:ae_id>/edit/", events.ae_edit, name="ae_edit"),
    path("participant/<int:participant_id>/conmeds/", events.conmed_list, name="conmed_list"),
    path(
        "participant/<int:participant_id>/conmeds/new/",
        events.conmed_create,
        name="conmed_create",
    ),
    path("conmeds/<int:conmed_id>/edit/", events.conmed_edit, name="conmed_edit"),
    path("flags/", flags.flag_list, name="flags"),
    path("flags/<int:pk>/acknowledge/", flags.flag_acknowledge, name="flag_acknowledge"),
    path("queries/", queries.query_list, name="queries"),
    path(
        "participant/<int:participant_id>/queries/new/",
        queries.query_create,
        name="query_create",
    ),
    path("queries/<int:pk>/answer/", queries.query_answer, name="query_answer"),
    path("queries/<int:pk>/close/", queries.query_close, name="query_close"),
    path("queries/<int:pk>/", records.query_detail, name="query_detail"),
    path("queries/<int:pk>/correct/", records.query_correct, name="query_correct"),
    path("records/<str:kind>/<int:object_id>/", records.record_detail, name="record"),
    path("records/<str:kind>/<int:object_id>/query/", records.record_query, name="record_query"),
    path("records/<str:kind>/<int:object_id>/verify/", records.record_verify, name="record_verify"),
    path("verification/", records.sdv_todo, name="sdv_todo"),
]
