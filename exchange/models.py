from __future__ import annotations

from django.conf import settings
from django.db import models


class DataExport(models.Model):
    """One export: who took which datasets when, with each file's row count and sha256."""

    exported_at = models.DateTimeField(auto_now_add=True)
    exported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    datasets = models.CharField(max_length=300)
    manifest = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-exported_at"]
        permissions = [
            ("export_data", "Can export the study data"),
            ("import_data", "Can import data files"),
        ]

    def __str__(self) -> str:
        return f"{self.datasets} by {self.exported_by} at {self.exported_at:%Y-%m-%d %H:%M}"


class DataImport(models.Model):
    """One confirmed import: who loaded which files, with what reason and what it changed."""

    imported_at = models.DateTimeField(auto_now_add=True)
    imported_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    files = models.CharField(max_length=300)
    reason = models.TextField(blank=True)
    summary = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-imported_at"]

    def __str__(self) -> str:
        return f"{self.files} by {self.imported_by} at {self.imported_at:%Y-%m-%d %H:%M}"
