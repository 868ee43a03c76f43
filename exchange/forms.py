"""The upload of lab results (platelets CSV) and its confirmation."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

# Lab result files are small; the preview keeps the file in the session until confirmed.
MAX_UPLOAD_BYTES = 1024 * 1024


class PlateletUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Platelets CSV"),
        help_text=_(
            "Columns subject_id, sample_date, platelets_10e9_l, who_bleeding_grade, "
            "visit_code (UNS for an unscheduled result); UTF-8, at most 1 MB."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than 1 MB: split it, or use the import_csv command.")
            )
        return upload


class ImportConfirmForm(forms.Form):
    token = forms.CharField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Reason for the changes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text=_("Required when the file changes stored values; kept in the audit trail."),
    )
