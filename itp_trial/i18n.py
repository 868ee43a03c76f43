"""Lazy interpolation: a translated template filled with values when it is shown.

`gettext_lazy("...") % values` at import time translates in the language of the import
(English), not the reader's. `interpolate_lazy` keeps both the template and the values
lazy, so module-level help texts and choice labels follow the active language.
"""

from __future__ import annotations

from typing import Any

from django.utils.functional import lazy


def _interpolate(template: Any, values: Any) -> str:
    return str(template) % values


interpolate_lazy = lazy(_interpolate, str)
