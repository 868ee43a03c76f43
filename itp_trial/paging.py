"""Pages of long lists: the LIMIT first, the joins after.

A page of a list that joins other tables (`select_related`) is read in one query whose
subquery chooses the page's rows from the narrow list (its filter, its order, its LIMIT);
the joins then apply to those rows only, not to every row of the study before the LIMIT.
"""

from __future__ import annotations

from django.core.paginator import Page
from django.db.models import Model, QuerySet


def rows_chosen(chosen: QuerySet, rows: QuerySet) -> list[Model]:
    """The rows of `rows` (the same model, with its joins) that the sliced list `chosen`
    picks, in `chosen`'s order."""
    return list(rows.filter(pk__in=chosen.values("pk")).order_by(*chosen.query.order_by))


def rows_of_page(page: Page, rows: QuerySet) -> Page:
    """`page` (of a narrow list) with its rows read from `rows`."""
    page.object_list = rows_chosen(page.object_list, rows)
    return page
