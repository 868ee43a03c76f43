"""The upload of lab results (platelets CSV) and its confirmation."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

# The preview keeps the file in the session until confirmed. The page previews and confirms
# a file of MAX_UPLOAD_ROWS counts in a few seconds each (the stored participants' counts
# are judged and written set-based); a larger file goes to the import_csv command.
MAX_UPLOAD_BYTES = 1024 * 1024
MAX_UPLOAD_ROWS = 5000


class PlateletUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Platelets CSV"),
        help_text=_(
            "Columns subject_id, sample_date, platelets_10e9_l, who_bleeding_grade, "
            "visit_code (UNS for an unscheduled result); UTF-8, at most 1 MB and "
            "5,000 rows."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                _("The file is larger than 1 MB: split it, or use the import_csv command.")
            )
        lines = upload.read().count(b"\n")
        upload.seek(0)
        if lines > MAX_UPLOAD_ROWS + 1:  # the header, and a last line without its newline
            raise forms.ValidationError(
                _("The file has more than %(rows)s rows: split it, or use the import_csv command.")
                % {"rows": f"{MAX_UPLOAD_ROWS:,}"}
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
