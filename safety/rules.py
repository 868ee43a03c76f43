"""Safety rules of protocol section 5: AE consistency, treatment emergence, the SAE clock.

Pure functions on plain values, no database. The AE form, the CSV import and the
background checks call these, so an event is judged the same way everywhere.

How the protocol text is read here:

- Errors are keyed by the AdverseEvent model field they belong to (`ctcae_grade`, not the
  `grade` argument), so a form can attach them with `add_error`.
- "Grade 5 <=> outcome fatal and serious (death)" is checked both ways: a grade 5 event must
  be fatal, serious and have the criterion death; a fatal outcome or the criterion death
  needs grade 5. Each error goes on the field the coordinator has to look at.
- End date or ongoing: exactly one of them. An ongoing event has no end date; an event that
  is not ongoing has one (for a fatal event, the date of death). The outcome must agree:
  recovered, recovered with sequelae and fatal mean the event has ended (not ongoing);
  recovering and not recovered mean it has not (ongoing, no end date); unknown goes with
  either (an event lost to follow-up is recorded as ongoing at the last contact).
- An event whose onset is before consent is refused: it belongs in the medical history.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.utils.translation import gettext as _

from itp_trial import protocol
from safety.models import Outcome, SeriousCriterion

FATAL_GRADE = protocol.CTCAE_GRADE_MAX  # CTCAE grade 5 is death related to the event
ENDED_OUTCOMES: frozenset[str] = frozenset(
    o.value for o in (Outcome.RECOVERED, Outcome.RECOVERED_WITH_SEQUELAE, Outcome.FATAL)
)
CONTINUING_OUTCOMES: frozenset[str] = frozenset(
    o.value for o in (Outcome.RECOVERING, Outcome.NOT_RECOVERED)
)


def ae_consistency_errors(
    *,
    onset_date: date,
    end_date: date | None,
    ongoing: bool,
    grade: int,
    outcome: str,
    serious: bool,
    serious_criteria: Sequence[str],
    consent_date: date | None,
) -> dict[str, list[str]]:
    """Field name -> messages for every cross-field rule the event breaks; empty when none.

    The rules and the reading of the protocol behind them are in the module docstring.
    """
    errors: dict[str, list[str]] = {}

    def add(field: str, message: str) -> None:
        errors.setdefault(field, []).append(message)

    criteria = [c for c in serious_criteria if c]
    fatal = outcome == Outcome.FATAL
    death = SeriousCriterion.DEATH in criteria
    outcome_label = Outcome(outcome).label if outcome in Outcome.values else outcome

    # Dates.
    if end_date is not None and end_date < onset_date:
        add("end_date", _("The end date cannot be before the onset date."))
    if consent_date is not None and onset_date < consent_date:
        add(
            "onset_date",
            _(
                "The onset date cannot be before informed consent (%(date)s): an event that "
                "began before consent belongs in the medical history."
            )
            % {"date": consent_date.isoformat()},
        )

    # End date or ongoing, and an outcome that agrees.
    if ongoing and end_date is not None:
        add(
            "end_date",
            _("An ongoing event has no end date: clear the end date or untick Ongoing."),
        )
    if not ongoing and end_date is None:
        if fatal:
            add("end_date", _("Enter the date of death as the end date of a fatal event."))
        else:
            add("end_date", _("Enter the end date, or tick Ongoing if the event has not ended."))
    if ongoing and outcome in ENDED_OUTCOMES:
        add(
            "outcome",
            _(
                "An ongoing event cannot have the outcome %(outcome)s: change the outcome, "
                "or untick Ongoing and enter the end date."
            )
            % {"outcome": outcome_label},
        )
    if not ongoing and end_date is not None and outcome in CONTINUING_OUTCOMES:
        add(
            "outcome",
            _(
                "An event with an end date cannot have the outcome %(outcome)s: change the "
                "outcome, or clear the end date and tick Ongoing."
            )
            % {"outcome": outcome_label},
        )

    # Grade 5 <=> fatal, serious, criterion death.
    if grade == FATAL_GRADE:
        if not fatal:
            add("outcome", _("A grade 5 event led to death: its outcome must be Fatal."))
        if not serious:
            add(
                "serious",
                _("A grade 5 event is serious: tick Serious and add the criterion Death."),
            )
        elif not death:
            add(
                "serious_criteria",
                _("A grade 5 event must have Death among its seriousness criteria."),
            )
    else:
        if fatal:
            add(
                "ctcae_grade",
                _("A fatal outcome is CTCAE grade 5: set the grade to 5 or change the outcome."),
            )
        if death:
            add(
                "ctcae_grade",
                _(
                    "The seriousness criterion Death means CTCAE grade 5: set the grade to 5 "
                    "or remove the criterion."
                ),
            )

    # Serious <=> at least one criterion, and only known criteria.
    if serious and not criteria:
        add("serious_criteria", _("A serious event needs at least one seriousness criterion."))
    if not serious and criteria:
        add(
            "serious_criteria",
            _(
                "Seriousness criteria apply only to a serious event: tick Serious or clear "
                "the criteria."
            ),
        )
    unknown = [c for c in criteria if c not in SeriousCriterion.values]
    if unknown:
        add(
            "serious_criteria",
            _("Unknown seriousness criterion: %(codes)s.") % {"codes": ", ".join(unknown)},
        )

    return errors


def is_treatment_emergent(onset_date: date, first_infusion: date | None) -> bool:
    """Onset on or after infusion 1; never before infusion 1 has been given."""
    return first_infusion is not None and onset_date >= first_infusion


def sae_report_due(awareness_at: datetime) -> datetime:
    """When a serious event must be reported by: site awareness + SAE_REPORT_HOURS."""
    return awareness_at + timedelta(hours=protocol.SAE_REPORT_HOURS)


@dataclass(frozen=True)
class SaeClock:
    applicable: bool  # a serious event with a known awareness time
    due_at: datetime | None
    reported: bool
    overdue: bool  # unreported and now is past due_at (exactly at due_at is not overdue)
    remaining: timedelta | None  # due_at - now, negative when overdue; None when reported
    reported_late: bool  # reported after due_at


def sae_clock(
    *,
    serious: bool,
    awareness_at: datetime | None,
    reported_at: datetime | None,
    now: datetime,
) -> SaeClock:
    """Where a serious event stands against its 24-hour reporting deadline.

    Not applicable to a non-serious event, nor without an awareness time (the AE form
    requires one, so that only happens to incomplete imported data).
    """
    reported = reported_at is not None
    if not serious or awareness_at is None:
        return SaeClock(
            applicable=False,
            due_at=None,
            reported=reported,
            overdue=False,
            remaining=None,
            reported_late=False,
        )
    due_at = sae_report_due(awareness_at)
    if reported_at is not None:
        return SaeClock(
            applicable=True,
            due_at=due_at,
            reported=True,
            overdue=False,
            remaining=None,
            reported_late=reported_at > due_at,
        )
    return SaeClock(
        applicable=True,
        due_at=due_at,
        reported=False,
        overdue=now > due_at,
        remaining=due_at - now,
        reported_late=False,
    )
