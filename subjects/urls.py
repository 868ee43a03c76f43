from django.urls import path

from .views import participants

# Served in the `subjects` namespace by itp_trial/urls.py, with visits.participant_urls
# (enrolment) and reporting.urls.participants (the record, the dashboard, the overview).

urlpatterns: list = [
    path("", participants.participant_list, name="list"),
    path("screen/", participants.participant_screen, name="screen"),
    path("<int:participant_id>/edit/", participants.participant_edit, name="edit"),
    path(
        "<int:participant_id>/eligibility/",
        participants.participant_eligibility,
        name="eligibility",
    ),
    path("<int:participant_id>/withdraw/", participants.participant_withdraw, name="withdraw"),
    path(
        "<int:participant_id>/discontinue/",
        participants.participant_discontinue,
        name="discontinue",
    ),
]
