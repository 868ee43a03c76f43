from django.urls import path

from . import views

app_name = "exchange"

urlpatterns = [
    path("exports/", views.exports, name="exports"),
    path("exports/study.zip", views.export_zip, name="export_zip"),
    path("exports/odm.xml", views.export_odm, name="export_odm"),
    path("exports/sdtm.zip", views.export_sdtm, name="export_sdtm"),
    path("exports/casebook/<int:participant_id>.pdf", views.casebook, name="casebook"),
    path("exports/<slug:name>.csv", views.export_dataset, name="export_dataset"),
    path("import/platelets/", views.import_platelets, name="import_platelets"),
]
