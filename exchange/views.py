"""Pages of data exchange: the exports of monitors and data managers, the lab result upload."""

from __future__ import annotations

import uuid
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import permission_required
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from subjects.models import Participant

from . import datasets
from .export import FileStats, dataset_stream, export_record, study_zip, zip_filename
from .forms import ImportConfirmForm, PlateletUploadForm
from .importer import CHANGED, NEW, ImportResult, import_files
from .models import DataExport, DataImport
from .standards.casebook import casebook_filename, casebook_pdf
from .standards.downloads import odm_download, sdtm_download

EXPORT_PERMISSION = "exchange.export_data"
IMPORT_PERMISSION = "exchange.import_data"
UPLOAD_SESSION_KEY = "exchange.platelets_upload"
RECENT = 20
# The values shown for each new count in the preview, besides its participant and date.
NEW_COLUMNS = ("platelets_10e9_l", "who_bleeding_grade", "visit_code")


@require_GET
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def exports(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "exchange/exports.html",
        {
            "datasets": datasets.DATASETS,
            "recent": DataExport.objects.select_related("exported_by")[:RECENT],
        },
    )


@require_GET
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def export_dataset(request: HttpRequest, name: str) -> StreamingHttpResponse:
    """One dataset (or the data dictionary) as a CSV download, streamed."""
    if name == "data_dictionary":
        filename = datasets.DICTIONARY_FILENAME
    elif name in datasets.DATASETS_BY_NAME:
        filename = datasets.DATASETS_BY_NAME[name].filename
    else:
        raise Http404
    export = export_record(user=request.user, names=[name])
    response = StreamingHttpResponse(
        dataset_stream(name, export=export), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def export_zip(request: HttpRequest) -> FileResponse:
    """The whole study as a zip: every dataset, the data dictionary and the manifest."""
    spool, export = study_zip(user=request.user)
    return FileResponse(
        spool,
        as_attachment=True,
        filename=zip_filename(export.exported_at),
        content_type="application/zip",
    )


@require_GET
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def export_odm(request: HttpRequest) -> FileResponse:
    """The study as CDISC ODM 1.3.2 XML: metadata, clinical data, audit records, signatures."""
    spool, filename = odm_download(user=request.user)
    return FileResponse(
        spool, as_attachment=True, filename=filename, content_type="application/xml"
    )


@require_GET
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def export_sdtm(request: HttpRequest) -> FileResponse:
    """The SDTM datasets as .xpt and .csv with define.xml, in one zip."""
    spool, filename = sdtm_download(user=request.user)
    return FileResponse(
        spool, as_attachment=True, filename=filename, content_type="application/zip"
    )


@require_GET
@permission_required(EXPORT_PERMISSION, raise_exception=True)
def casebook(request: HttpRequest, participant_id: int) -> HttpResponse:
    """One participant's PDF casebook, rendered now; the download is recorded."""
    participant = get_object_or_404(Participant, pk=participant_id)
    pdf = casebook_pdf(participant.subject_id)
    filename = casebook_filename(participant.subject_id)
    export = export_record(user=request.user, names=[f"casebook {participant.subject_id}"])
    stats = FileStats(filename, rows=1)
    stats.digest.update(pdf)
    export.manifest = [stats.manifest(export)]
    export.save(update_fields=["manifest"])
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _preview_context(result: ImportResult, **extra: Any) -> dict[str, Any]:
    return {
        "result": result,
        "counts": result.counts().get(datasets.PLATELETS.filename, {}),
        "new": [
            (outcome, [outcome.values.get(column, "") for column in NEW_COLUMNS])
            for outcome in result.accepted(NEW)
        ],
        "changed": result.accepted(CHANGED),
        "new_columns": NEW_COLUMNS,
        **extra,
    }


@permission_required(IMPORT_PERMISSION, raise_exception=True)
def import_platelets(request: HttpRequest) -> HttpResponse:
    """Upload lab results, see what they would do (or every refusal), then confirm.

    The preview runs the whole import through the services and rolls it back; the file
    waits in the session. The confirmation imports it again, judged afresh, in one
    transaction, with the reason for any changed value.
    """
    recent = DataImport.objects.select_related("imported_by")[:RECENT]
    upload_form = PlateletUploadForm()
    if request.method == "POST" and request.POST.get("action") == "confirm":
        return _import_confirm(request, recent)
    if request.method == "POST":
        upload_form = PlateletUploadForm(request.POST, request.FILES)
        if upload_form.is_valid():
            upload = upload_form.cleaned_data["file"]
            content = upload.read()
            try:
                text = content.decode("utf-8-sig")
            except UnicodeDecodeError:
                upload_form.add_error("file", _("The file is not UTF-8 text."))
            else:
                token = uuid.uuid4().hex
                request.session[UPLOAD_SESSION_KEY] = {
                    "token": token,
                    "name": upload.name,
                    "content": text,
                }
                result = import_files(
                    files={"platelets": text},
                    user=request.user,
                    preview=True,
                    reason_later=True,
                )
                return render(
                    request,
                    "exchange/import_platelets.html",
                    _preview_context(
                        result,
                        filename=upload.name,
                        confirm_form=ImportConfirmForm(initial={"token": token}),
                        recent=recent,
                    ),
                )
    return render(
        request,
        "exchange/import_platelets.html",
        {"upload_form": upload_form, "recent": recent},
    )


def _import_confirm(request: HttpRequest, recent: Any) -> HttpResponse:
    form = ImportConfirmForm(request.POST)
    stored = request.session.get(UPLOAD_SESSION_KEY)
    if not form.is_valid() or not stored or stored.get("token") != form.cleaned_data["token"]:
        messages.error(request, _("The upload has expired: upload the file again."))
        return redirect("exchange:import_platelets")
    reason = form.cleaned_data["reason"].strip()
    result = import_files(
        files={"platelets": stored["content"]},
        user=request.user,
        reason=reason,
        source=_("web upload: %(name)s") % {"name": stored["name"]},
        upload_name=stored["name"],
    )
    if result.applied:
        del request.session[UPLOAD_SESSION_KEY]
        counts = result.counts().get(datasets.PLATELETS.filename, {})
        messages.success(
            request,
            _("Imported %(name)s: %(new)s new, %(changed)s changed, %(unchanged)s unchanged.")
            % {
                "name": stored["name"],
                **{k: counts.get(k, 0) for k in ("new", "changed", "unchanged")},
            },
        )
        return redirect("exchange:import_platelets")
    if result.needs_reason and not reason:
        # Show the preview again, with the reason asked for rather than a refusal per cell.
        form.add_error("reason", _("The file changes stored values: give the reason."))
        result = import_files(
            files={"platelets": stored["content"]},
            user=request.user,
            preview=True,
            reason_later=True,
        )
    return render(
        request,
        "exchange/import_platelets.html",
        _preview_context(
            result, filename=stored["name"], confirm_form=form, recent=recent, confirming=True
        ),
    )
