from django.urls import path

from reporting import views

urlpatterns = [
    path("worklist/", views.visit_worklist, name="worklist"),
]
