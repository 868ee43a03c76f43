"""The coordinator's worklist: every participant's visits that are open, due soon or overdue."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from itp_trial import protocol
from visits.models import Visit, WindowStatus


@dataclass(frozen=True)
class Worklist:
    in_window: list[Visit]  # open now
    due: list[Visit]  # opening within WORKLIST_DUE_DAYS
    overdue: list[Visit]  # window closed, not done, not missed


def worklist(*, today: date) -> Worklist:
    """The coordinator's worklist from the stored schedule, in one query.

    Overdue is judged from the stored window against `today` rather than from the stored
    status, so a window that closed since the last background run is already shown.
    """
    horizon = today + timedelta(days=protocol.WORKLIST_DUE_DAYS)
    visits = list(
        # Not done, not missed, not `not_expected`: an infusion visit is done when its
        # infusion is recorded, which only the stored status tells.
        Visit.objects.filter(
            window_status__in=(WindowStatus.PENDING, WindowStatus.OVERDUE),
            window_start__lte=horizon,
        )
        .select_related("participant")
        .order_by("window_end", "participant__subject_id", "id")
    )
    result = Worklist(in_window=[], due=[], overdue=[])
    for visit in visits:
        if visit.window_end < today:
            # The longest overdue first (ordered by the window's end), with how long.
            visit.overdue_days = (today - visit.window_end).days
            result.overdue.append(visit)
        elif visit.window_start <= today:
            result.in_window.append(visit)
        else:
            result.due.append(visit)
    return result
