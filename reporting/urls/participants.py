from django.urls import path

from reporting import views

urlpatterns = [
    path("<int:participant_id>/", views.participant_detail, name="detail"),
    path("<int:participant_id>/dashboard/", views.dashboard, name="dashboard"),
    path("overview/", views.overview, name="overview"),
]
