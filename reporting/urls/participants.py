from django.urls import path

from reporting import review, views

urlpatterns = [
    path("<int:participant_id>/", views.participant_detail, name="detail"),
    path("<int:participant_id>/dashboard/", views.dashboard, name="dashboard"),
    path("overview/", views.overview, name="overview"),
]

# The investigator's signature and the locks (reporting.review).
urlpatterns += [
    path("<int:participant_id>/sign/", review.casebook_sign_page, name="sign"),
    path("<int:participant_id>/lock/", review.casebook_lock_page, name="lock"),
    path("<int:participant_id>/unlock/", review.casebook_unlock_page, name="unlock"),
    path("database-lock/", review.database_lock_page, name="database_lock"),
]
