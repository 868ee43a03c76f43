"""Pages of the `subjects` namespace that the visits app serves (see itp_trial/urls.py)."""

from django.urls import path

from . import views

urlpatterns = [
    path("<int:participant_id>/enrol/", views.participant_enrol, name="enrol"),
]
