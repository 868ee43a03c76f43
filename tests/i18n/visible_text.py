"""What is left of a page's visible text once the data and the codes are taken out.

A page in Chinese still shows Latin letters where they belong: what was entered (terms,
drug names, reasons, people's names), identifiers and codes (subject IDs, visit codes,
the data contract's file and column names) and the protocol's units and abbreviations.
`english_left` removes the first two by value, gathered from the database, and accepts the
last from an explicit list; any other word in Latin letters is interface text that was
not translated.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.apps import apps
from django.contrib.auth import get_user_model
from django.db import models

from itp_trial import protocol, stored_text

# Codes, abbreviations and units that stay as they are in Chinese (docs/glossary.md).
CODES = re.compile(
    r"""(
        AE\d*|SAE|TEAE|CTCAE|MSC|ITP|IWG|WHO|CR|R|NR|NE|UNS|TPO-RA|TPO|RA|IVIg
      | HBV|HCV|HIV|CSV|UTF-8|ISO|EDC|CRF|MB|zip|kg|mL|cm|mmHg|L|min|mg|g|v5\.0|v\d+
      | Y|N|I\d+|E\d+|V\d[\w-]*|INF\d*|NCT\d+|e\d+|x|ID|YYYY-MM-DD|HH|MM|Q\d+
      | CDISC|ODM|SDTM|XML|Define-XML|define.xml|SAS|xpt|PDF|sha256  # standards and formats
      | English                      # the language switcher names each language in its own
    )""",
    re.X,
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.'’-]*[A-Za-z0-9]|[A-Za-z]")
_APPS = ("subjects", "visits", "infusions", "safety", "exchange", "itp_trial")
# Sentences of the system stored in English: shown translated, so never counted as data.
_SYSTEM_TEXT = {("safety", "flag", "detail"), ("safety", "historicalflag", "detail")}


def data_values() -> set[str]:
    """Every text value entered or derived in the database, the people's names, and the
    data contract's dataset names, file names and columns."""
    from exchange import datasets

    values: set[str] = {protocol.REGISTRY_ID}
    for model in apps.get_models():
        meta = model._meta
        if meta.app_label not in _APPS:
            continue
        for field in meta.get_fields():
            if not isinstance(field, models.CharField | models.TextField):
                continue
            if (meta.app_label, meta.model_name, field.name) in _SYSTEM_TEXT:
                continue
            for value in model.objects.values_list(field.name, flat=True).distinct():
                if not value:
                    continue
                # A reason the system wrote is translated on the page, not data.
                if field.name == "history_change_reason" and stored_text.display(value) != value:
                    continue
                values.add(str(value))
    for user in get_user_model().objects.all():
        values.update(v for v in (user.username, user.first_name, user.last_name) if v)
    for dataset in datasets.DATASETS:  # the contract's names and codes are never translated
        values.update((dataset.name, dataset.filename))
        for column in dataset.columns:
            values.update((column.name, column.unit, *column.allowed))
    return {v.strip() for v in values if v and v.strip()}


def _data_pattern(values: Iterable[str]) -> re.Pattern[str]:
    alternatives = "|".join(re.escape(v) for v in sorted(values, key=len, reverse=True))
    return re.compile(rf"(?<![A-Za-z])(?:{alternatives})(?![A-Za-z])")


def english_left(text: str, values: Iterable[str]) -> list[str]:
    """The words of `text` in Latin letters that are neither data nor an allowed code."""
    values = list(values)
    if values:
        text = _data_pattern(values).sub(" ", text)
    return [word for word in _WORD.findall(text) if not CODES.fullmatch(word)]
