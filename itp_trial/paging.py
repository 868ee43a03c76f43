"""Pages of long lists: the LIMIT first, the joins after.

A page of a list that joins other tables (`select_related`) is read in one query whose
subquery chooses the page's rows from the narrow list (its filter, its order, its LIMIT);
the joins then apply to those rows only, not to every row of the study before the LIMIT.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from threading import Lock
from typing import Any

from django.core.paginator import Page, Paginator
from django.db import connection
from django.db.models import Model, QuerySet
from django.urls import reverse
from django.utils.functional import cached_property


def rows_chosen(chosen: QuerySet, rows: QuerySet) -> list[Model]:
    """The rows of `rows` (the same model, with its joins) that the sliced list `chosen`
    picks, in `chosen`'s order."""
    return list(rows.filter(pk__in=chosen.values("pk")).order_by(*chosen.query.order_by))


def rows_of_page(page: Page, rows: QuerySet) -> Page:
    """`page` (of a narrow list) with its rows read from `rows`."""
    page.object_list = rows_chosen(page.object_list, rows)
    return page


# An id no row has, standing for the row's id in a reversed URL.
_ROW_MARK = 987654321


def row_url(name: str) -> Callable[[int], str]:
    """`reverse(name, args=[pk])` for each row of a list: reversed once, then filled per row
    (fifty reverses cost more than the rest of a row)."""
    before, after = reverse(name, args=[_ROW_MARK]).split(str(_ROW_MARK))
    return lambda pk: f"{before}{pk}{after}"


# How many rows past the page asked for a long list counts: enough to say how much work is
# waiting ("more than 1,000"), without reading 70,000 rows on every request.
COUNT_AHEAD = 1000


class BoundedPaginator(Paginator):
    """A Paginator that counts at most COUNT_AHEAD rows past the page asked for.

    `count` is then exact up to that bound; beyond it `more` is True, `count` is one more
    than `bound` (rows known to exist) and pages say "more than `bound`". Every page stays
    reachable: each request counts ahead of its own page.
    """

    def __init__(self, object_list: Any, per_page: int, *, number: Any = None) -> None:
        super().__init__(object_list, per_page)
        try:
            asked = max(int(number), 1)
        except (TypeError, ValueError):
            asked = 1
        # At least a page ahead: the page asked for is whole whatever the bound.
        self.bound = (asked - 1) * per_page + max(COUNT_AHEAD, per_page)
        self.more = False

    @cached_property
    def count(self) -> int:
        return self.counted(self.object_list.order_by()[: self.bound + 1].count())

    def counted(self, found: int) -> int:
        """Take `found` (the rows up to bound + 1, counted elsewhere) as the count."""
        self.more = found > self.bound
        self.__dict__["count"] = found
        return found


def bounded_counts(paginators: dict[str, BoundedPaginator], *, key: Hashable = None) -> None:
    """Count the lists of several BoundedPaginators in one query (a scalar subquery each).

    With `key` (every value the lists' queries are built from), the statement is composed
    once for that key and kept (see `compiled_once`)."""
    if not paginators:
        return

    def compose() -> tuple[str, list[Any]]:
        parts, params = [], []
        for paginator in paginators.values():
            limited = paginator.object_list.order_by().values("pk")[: paginator.bound + 1]
            sql, values = limited.query.sql_with_params()
            parts.append(f"(SELECT COUNT(*) FROM ({sql}) AS counted_{len(parts)})")
            params += values
        return "SELECT " + ", ".join(parts), params

    bounds = tuple(paginator.bound for paginator in paginators.values())
    sql, params = compose() if key is None else _kept(("counts", key, bounds), compose)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    for paginator, number in zip(paginators.values(), found, strict=True):
        paginator.counted(number)


# --- statements compiled once --------------------------------------------------------------
# The ORM builds a page's SQL anew on every request, and on a list page that costs more than
# PostgreSQL's running it. A page whose queries are made from a few values (the date, the
# page numbers) keeps each statement under those values and runs it again as it is.

_KEPT: OrderedDict[Hashable, Any] = OrderedDict()
_KEPT_MAX = 256
_kept_lock = Lock()


def _kept(key: Hashable, make: Callable[[], Any]) -> Any:
    with _kept_lock:
        if key in _KEPT:
            _KEPT.move_to_end(key)
            return _KEPT[key]
    made = make()
    with _kept_lock:
        _KEPT[key] = made
        while len(_KEPT) > _KEPT_MAX:
            _KEPT.popitem(last=False)
    return made


def compiled_once(key: Hashable, queryset: Callable[[], QuerySet]) -> list[tuple]:
    """The rows (tuples, as values_list gives them) of `queryset()`, a values_list query,
    compiled once per `key` and run again as it is.

    `key` must hold every value the query is built from: two calls with the same key run
    the same statement with the same parameters. The rows pass through the ORM's converters
    as its own iteration would."""
    database = connection.alias

    def compile_it() -> tuple[Any, str, tuple]:
        compiler = queryset().query.get_compiler(database)
        sql, params = compiler.as_sql()
        return compiler, sql, tuple(params)

    compiler, sql, params = _kept((database, connection.vendor, key), compile_it)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return [tuple(row) for row in compiler.results_iter(results=[rows])]
