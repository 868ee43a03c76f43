from django.urls import path

app_name = "infusions"

urlpatterns: list = []
