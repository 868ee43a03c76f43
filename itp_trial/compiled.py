"""Reads that a page makes on every request, compiled to SQL once per process.

For a small read (one participant's visits, its open queries), Django's building and
compiling of the query costs several times what the database takes to run it. A
`CompiledRead` builds its queryset once, with a placeholder for the one id it is filtered
by, keeps the SQL the ORM wrote, and on each call runs that SQL with the id and makes the
rows as the queryset would have: model instances (with their `select_related` objects) or
the tuples of `values_list`. The SQL is the ORM's own, for the database in use; a test holds
each read equal to its queryset.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Model, QuerySet
from django.db.models.query import ModelIterable, ValuesListIterable

# The placeholder id the queryset is compiled with: no row has it, and no other parameter of
# these reads takes it (compiling refuses a read where it is found other than once).
PLACEHOLDER = -918_273_645


def _maker(klass_info: dict[str, Any], select: list[Any], alias: str) -> Callable[[tuple], Any]:
    """A function making the model instance of `klass_info` (and its select_related objects)
    from one row, as Django's ModelIterable and RelatedPopulator do."""
    model = klass_info["model"]
    fields = klass_info["select_fields"]
    names = [select[i][0].target.attname for i in fields]
    if names != [f.attname for f in model._meta.concrete_fields]:
        raise ValueError(f"{model.__name__}: a compiled read loads every field, in order.")
    start, end = fields[0], fields[-1] + 1
    pk_index = names.index(model._meta.pk.attname)
    related = [
        (_maker(info, select, alias), info["local_setter"], info["remote_setter"])
        for info in klass_info.get("related_klass_infos", [])
    ]

    def make(row: tuple) -> Any:
        values = row[start:end]
        if values[pk_index] is None:  # an outer join found no related row
            return None
        obj = model.from_db(alias, names, values)
        for make_related, local_setter, remote_setter in related:
            other = make_related(row)
            local_setter(obj, other)
            if other is not None:
                remote_setter(other, obj)
        return obj

    return make


class CompiledRead:
    """`build(id)` (a queryset filtered by that one id) compiled once; `rows(id)` runs it."""

    def __init__(self, build: Callable[[int], QuerySet]) -> None:
        self._build = build
        self._compiled: dict[str, tuple[str, list[Any], int, Any, Any]] = {}

    def _compile(self, alias: str) -> tuple[str, list[Any], int, Any, Any]:
        queryset = self._build(PLACEHOLDER).using(alias)
        compiler = queryset.query.get_compiler(alias)
        sql, params = compiler.as_sql()
        slots = [i for i, p in enumerate(params) if p == PLACEHOLDER]
        if len(slots) != 1:
            raise ValueError("A compiled read is filtered by its id exactly once.")
        select = compiler.select
        if queryset._iterable_class is ModelIterable:
            if compiler.annotation_col_map or queryset.query.extra_select:
                raise ValueError("A compiled read of model instances has no annotation.")
            make = _maker(compiler.klass_info, select, alias)
        elif queryset._iterable_class is ValuesListIterable:
            make = tuple
        else:
            raise ValueError("A compiled read gives model instances or values_list tuples.")
        converters = list(compiler.get_converters([s[0] for s in select]).items())
        compiled = (sql, list(params), slots[0], make, converters)
        self._compiled[alias] = compiled
        return compiled

    def rows(self, key: int, *, using: str = DEFAULT_DB_ALIAS) -> list[Any]:
        sql, params, slot, make, converters = self._compiled.get(using) or self._compile(using)
        params = list(params)
        params[slot] = key
        connection = connections[using]
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            rows = cursor.fetchall()
        if converters:  # the database's values made Python's, as the ORM does (SQLite's dates)
            converted = []
            for row in rows:
                values = list(row)
                for index, (functions, expression) in converters:
                    for function in functions:
                        values[index] = function(values[index], expression, connection)
                converted.append(tuple(values))
            rows = converted
        return [make(row) for row in rows]


def loaded_as_related(
    instance: Model, name: str, queryset: QuerySet, rows: list[Model]
) -> QuerySet:
    """`instance.<name>.all()` made to return `rows`, read by `queryset` (as prefetch_related
    leaves it): the related manager's own filter on `queryset`, its result set to the rows,
    each row's foreign key to `instance` the instance itself."""
    manager = getattr(instance, name)
    field = manager.field
    for row in rows:
        field.set_cached_value(row, instance)
    queryset = manager._apply_rel_filters(queryset)
    queryset._result_cache = rows
    queryset._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[field.remote_field.cache_name] = (
        queryset
    )
    return queryset
