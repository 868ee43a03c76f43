from django.urls import path

from . import views

app_name = "infusions"

urlpatterns = [
    path("participant/<int:participant_id>/", views.infusion_list, name="list"),
    path(
        "participant/<int:participant_id>/<int:number>/",
        views.infusion_record_view,
        name="record",
    ),
    path("<int:infusion_id>/", views.infusion_detail, name="detail"),
    path("dose-preview/", views.dose_preview, name="dose_preview"),
]
