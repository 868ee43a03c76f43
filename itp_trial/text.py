"""Translated texts that carry the protocol's numbers, put in when the text is shown."""

from __future__ import annotations

from django.utils.functional import lazy


def interpolated(message: object, **values: object) -> object:
    """`message` (a gettext_lazy text with %(name)s placeholders) with `values` put in.

    Lazy, so that module-level texts (help texts, criteria) are translated in the language
    of each request; the msgid keeps its named placeholders for the translators, and a
    number changed in itp_trial/protocol.py changes every language at once.
    """
    return lazy(lambda: str(message) % values, str)()
