from django.urls import path

app_name = "safety"

urlpatterns: list = []
