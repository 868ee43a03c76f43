"""Helpers of the translation tests: the catalogue's state, and the marked strings of a tree.

`catalogue_problems` reads a .po file (polib) and, as a second opinion, GNU msgfmt's
statistics; `collect_into` runs Django's makemessages over a copy of a source tree and
of the catalogue, so that a string marked in the code but missing from the catalogue shows
up as untranslated.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import polib
from django.conf import settings
from django.core.management import call_command
from django.test import override_settings

LOCALE = "zh_Hans"
DOMAINS = ("django", "djangojs")
# What makemessages leaves out (the Makefile's `make messages` passes the same).
IGNORE = [".venv", "var", "static/vendor", "node_modules", "build", "tests", "benchmarks"]


def catalogue_path(domain: str, root: Path | None = None) -> Path:
    root = root or settings.BASE_DIR
    return Path(root) / "locale" / LOCALE / "LC_MESSAGES" / f"{domain}.po"


def catalogue_problems(path: Path) -> dict[str, list[str]]:
    """The untranslated and fuzzy entries of a catalogue (the header aside)."""
    po = polib.pofile(str(path))
    return {
        "untranslated": [e.msgid for e in po.untranslated_entries()],
        "fuzzy": [e.msgid for e in po.fuzzy_entries() if e.msgid],
    }


def msgfmt_statistics(path: Path) -> dict[str, int]:
    """`msgfmt --check --statistics`: counts of translated, fuzzy and untranslated messages.

    --check also refuses a translation whose placeholders differ from the English.
    """
    result = subprocess.run(
        ["msgfmt", "--check", "--statistics", "-o", os.devnull, str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    counts = {"translated": 0, "fuzzy": 0, "untranslated": 0}
    for number, kind in re.findall(r"(\d+) (translated|fuzzy|untranslated)", result.stderr):
        counts[kind] = int(number)
    return counts


@contextmanager
def _cwd(path: Path):
    before = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


def collect_into(source_root: Path, work: Path, domain: str) -> Path:
    """Merge every string marked under `source_root` into a copy of the catalogue.

    The tree is copied to `work` first (without the ignored folders) with the committed
    catalogue beside it, and makemessages runs there, so neither the repository's catalogue
    nor its folders are written to. Returns the merged catalogue's path.
    """
    tree = work / "src"
    shutil.copytree(
        source_root,
        tree,
        ignore=shutil.ignore_patterns(".git", ".venv", "var", "node_modules", "*.mo", "vendor"),
    )
    target = catalogue_path(domain, tree)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(catalogue_path(domain), target)
    with _cwd(tree), override_settings(LOCALE_PATHS=[str(tree / "locale")]):
        call_command(
            "makemessages",
            locale=[LOCALE],
            domain=domain,
            ignore_patterns=IGNORE,
            no_obsolete=True,
            verbosity=0,
        )
    return target
