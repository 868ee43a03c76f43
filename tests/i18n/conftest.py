"""The translation tests need the compiled catalogues: `make test` builds them first; run
on their own, they build them here when a .mo is missing or older than its .po."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import call_command


@pytest.fixture(scope="session", autouse=True)
def _compiled_catalogues() -> None:
    stale = [
        po
        for po in Path(settings.BASE_DIR, "locale").rglob("*.po")
        if not po.with_suffix(".mo").exists()
        or po.with_suffix(".mo").stat().st_mtime < po.stat().st_mtime
    ]
    if stale and shutil.which("msgfmt"):
        call_command(
            "compilemessages", locale=["zh_Hans"], ignore_patterns=[".venv", "var"], verbosity=0
        )
