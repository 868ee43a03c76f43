"""Choice codes that more than one app's rules read: kept in the base so that a pure rule
(the schedule engine) needs no app's models. The models re-export them."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class ParticipantStatus(models.TextChoices):
    SCREENING = "screening", _("Screening")
    SCREEN_FAILED = "screen_failed", _("Screen failed")
    ENROLLED = "enrolled", _("Enrolled")
    ON_TREATMENT = "on_treatment", _("On treatment")
    FOLLOW_UP = "follow_up", _("Follow-up")
    COMPLETED = "completed", _("Completed")
    WITHDRAWN = "withdrawn", _("Withdrawn")


class WindowStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    OVERDUE = "overdue", _("Overdue")
    IN_WINDOW = "in_window", _("In window")
    EARLY = "early", _("Early")
    LATE = "late", _("Late")
    MISSED = "missed", _("Missed")
    NOT_EXPECTED = "not_expected", _("Not expected")
