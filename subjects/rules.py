"""Pure rules of screening and eligibility (protocol section 3)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from itp_trial import protocol


def age_years(birth_date: date, on: date) -> int:
    """Completed years of age on a date (a birthday counts on the day itself)."""
    before_birthday = (on.month, on.day) < (birth_date.month, birth_date.day)
    return on.year - birth_date.year - (1 if before_birthday else 0)


def age_eligible(birth_date: date, consent_date: date) -> bool:
    """I2: aged AGE_MIN to AGE_MAX inclusive at consent."""
    return protocol.AGE_MIN_YEARS <= age_years(birth_date, consent_date) <= protocol.AGE_MAX_YEARS


def is_minor(birth_date: date, consent_date: date) -> bool:
    return age_years(birth_date, consent_date) < protocol.ADULT_AGE_YEARS


@dataclass(frozen=True)
class EligibilityDecision:
    complete: bool  # every criterion answered
    eligible: bool | None  # None until complete
    failed: tuple[str, ...]  # codes of the criteria that were not satisfied


def eligibility_decide(answers: Mapping[str, bool | None]) -> EligibilityDecision:
    """Eligible when every inclusion is met and no exclusion is; else the failed criteria."""
    failed = tuple(
        c.code
        for c in protocol.CRITERIA
        if answers.get(c.code) is not None and answers[c.code] != c.required_answer
    )
    complete = all(answers.get(c.code) is not None for c in protocol.CRITERIA)
    if failed:
        return EligibilityDecision(complete=complete, eligible=False, failed=failed)
    return EligibilityDecision(complete=complete, eligible=True if complete else None, failed=())
