from django.contrib import admin

from itp_trial.admin import RecordReadOnlyAdmin

from .models import DataExport, DataImport


@admin.register(DataExport)
class DataExportAdmin(RecordReadOnlyAdmin):
    list_display = ("exported_at", "exported_by", "datasets")


@admin.register(DataImport)
class DataImportAdmin(RecordReadOnlyAdmin):
    list_display = ("imported_at", "imported_by", "files")
