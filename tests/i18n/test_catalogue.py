"""The zh-Hans catalogue is complete: every marked string has a translation, none fuzzy.

`make messages` collects the strings; these tests fail as soon as a string is marked in the
code without a translation in locale/zh_Hans (a new page, a new message), so the Chinese
interface cannot silently fall behind the English one.
"""

from __future__ import annotations

import shutil

import polib
import pytest

from .catalogue import (
    DOMAINS,
    catalogue_path,
    catalogue_problems,
    collect_into,
    msgfmt_statistics,
)

pytestmark = pytest.mark.skipif(not shutil.which("msgfmt"), reason="needs GNU gettext (msgfmt)")


@pytest.mark.parametrize("domain", DOMAINS)
def test_msgfmt_reports_no_untranslated_nor_fuzzy_message(domain):
    counts = msgfmt_statistics(catalogue_path(domain))
    assert counts["untranslated"] == 0
    assert counts["fuzzy"] == 0
    assert counts["translated"] > 0


@pytest.mark.parametrize("domain", DOMAINS)
def test_every_string_marked_in_the_code_is_in_the_catalogue_and_translated(
    domain, tmp_path, settings
):
    merged = collect_into(settings.BASE_DIR, tmp_path, domain)
    problems = catalogue_problems(merged)
    assert problems == {"untranslated": [], "fuzzy": []}, (
        "Run `make messages`, then translate the new strings in "
        f"locale/zh_Hans/LC_MESSAGES/{domain}.po (terms: docs/glossary.md)."
    )
    # The committed catalogue holds exactly what the code marks: nothing stale either.
    committed = {(e.msgctxt, e.msgid) for e in polib.pofile(str(catalogue_path(domain)))}
    collected = {(e.msgctxt, e.msgid) for e in polib.pofile(str(merged)) if not e.obsolete}
    assert collected == committed


def test_a_new_untranslated_entry_fails_the_check(tmp_path):
    copy = tmp_path / "django.po"
    shutil.copy(catalogue_path("django"), copy)
    po = polib.pofile(str(copy))
    po.append(polib.POEntry(msgid="A sentence added without its translation", msgstr=""))
    po.append(polib.POEntry(msgid="A guessed translation", msgstr="猜测的翻译", flags=["fuzzy"]))
    po.save(str(copy))

    assert catalogue_problems(copy) == {
        "untranslated": ["A sentence added without its translation"],
        "fuzzy": ["A guessed translation"],
    }
    counts = msgfmt_statistics(copy)
    assert (counts["untranslated"], counts["fuzzy"]) == (1, 1)


def test_a_string_newly_marked_in_the_code_fails_the_check(tmp_path, settings):
    """The path a helper's new page takes: marked in a template or in Python, not yet in
    the catalogue: the merge shows it untranslated."""
    source = tmp_path / "src"
    (source / "templates").mkdir(parents=True)
    (source / "templates" / "page.html").write_text(
        '{% load i18n %}<h1>{% translate "Source data verification done" %}</h1>\n'
        '<p>{% translate "Subject ID" %}</p>\n'
    )
    (source / "module.py").write_text(
        "from django.utils.translation import gettext as _\n\n"
        'MESSAGE = _("The visit was verified against the source")\n'
    )
    merged = collect_into(source, tmp_path / "work", "django")

    problems = catalogue_problems(merged)
    # Untranslated, or fuzzy when msgmerge guesses from a similar string: either fails.
    assert sorted(problems["untranslated"] + problems["fuzzy"]) == [
        "Source data verification done",
        "The visit was verified against the source",
    ]
    # A string already translated keeps its translation.
    subject_id = polib.pofile(str(merged)).find("Subject ID")
    assert subject_id is not None and subject_id.msgstr == "受试者编号"


def test_a_placeholder_lost_in_translation_fails_msgfmt(tmp_path):
    copy = tmp_path / "django.po"
    shutil.copy(catalogue_path("django"), copy)
    po = polib.pofile(str(copy))
    entry = po.find("Infusion %(n)s saved.")
    entry.msgstr = "输注已保存。"  # the infusion number is gone
    po.save(str(copy))
    with pytest.raises(AssertionError):
        msgfmt_statistics(copy)
