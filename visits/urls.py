from django.urls import path

from . import views

# Served in the `visits` namespace by itp_trial/urls.py, with reporting.urls.visits.

urlpatterns = [
    path("<int:visit_id>/", views.visit_edit, name="edit"),
    path("<int:visit_id>/missed/", views.visit_missed, name="missed"),
    path(
        "participant/<int:participant_id>/platelets/",
        views.platelet_unscheduled,
        name="platelet_unscheduled",
    ),
    path("platelets/<int:count_id>/", views.platelet_edit, name="platelet_edit"),
]
