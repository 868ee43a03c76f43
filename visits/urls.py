from django.urls import path

from . import views

app_name = "visits"

urlpatterns = [
    path("worklist/", views.visit_worklist, name="worklist"),
    path("<int:visit_id>/", views.visit_edit, name="edit"),
    path("<int:visit_id>/missed/", views.visit_missed, name="missed"),
    path(
        "participant/<int:participant_id>/platelets/",
        views.platelet_unscheduled,
        name="platelet_unscheduled",
    ),
]
