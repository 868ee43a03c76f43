"""The words of a flag's detail and of its history: stored in English, shown translated.

The checks write a flag's detail once, in English, from the templates below (gettext_noop:
in the catalogue, not translated when stored), whatever the language of the run or of the
user whose save triggered it. Pages and e-mails show `Flag.detail_display`, the same
sentence in the reader's language (itp_trial.stored_text).
"""

from __future__ import annotations

from django.utils.translation import gettext_noop

from itp_trial import stored_text

OVERDUE = gettext_noop("%(visit)s not done; its window ended %(end)s.")
OUT_OF_WINDOW = gettext_noop("%(visit)s done on %(date)s, outside its window %(start)s to %(end)s.")
MISSED = gettext_noop("%(visit)s marked missed: %(reason)s")
DOSE = gettext_noop(
    "%(visit)s: planned %(planned)s cells, actual %(actual)s, deviation %(pct)s %%."
)
SAE = gettext_noop("AE%(number)s %(term)s: site aware %(aware)s, report was due %(due)s.")
SIGNATURE_STALE = gettext_noop("Signed by %(name)s on %(when)s; %(why)s.")
REOPENED = gettext_noop("%(detail)s [resolved %(resolved)s, reopened %(reopened)s]")

# The reasons in a flag's history.
RAISED_REASON = gettext_noop("Raised by the checks")
RESOLVED_REASON = gettext_noop("Resolved by the checks")
REOPENED_REASON = gettext_noop("Re-opened by the checks")
SIGNATURE_STALE_REASON = gettext_noop("The casebook data changed after signing")

stored_text.register(
    REOPENED,
    OVERDUE,
    OUT_OF_WINDOW,
    MISSED,
    DOSE,
    SAE,
    SIGNATURE_STALE,
    RAISED_REASON,
    RESOLVED_REASON,
    REOPENED_REASON,
    SIGNATURE_STALE_REASON,
)


def detail_display(text: str) -> str:
    """A stored (English) flag detail in the active language."""
    return stored_text.display(text)
