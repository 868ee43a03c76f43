"""The trial overview's figures, summed ahead of the request (see `reporting.figures`)."""

from __future__ import annotations

from django.db import models


class ParticipantFigures(models.Model):
    """One participant's share of every figure of the overview (the non-zero ones), as
    `reporting.figures.participant_figures` gives it from the stored records, written
    "key=n;key=n" (`figures_encode`).

    Derived and recomputable (no history, no version), like `visits.ParticipantResponse`:
    `reporting.figures.figures_sync` keeps it in step after every write.
    """

    participant = models.OneToOneField(
        "subjects.Participant", on_delete=models.CASCADE, primary_key=True, related_name="+"
    )
    figures = models.TextField(blank=True, default="")

    def __str__(self) -> str:
        return f"{self.participant_id} {self.figures}"


class FigureDelta(models.Model):
    """What one sync moved a figure by: an append-only ledger whose sum by key is the
    whole trial's figures (and equals the sum of `ParticipantFigures`).

    Appending takes no lock that another write waits on; `figures_compact` folds the rows
    into one per key now and then, so the sum stays short.
    """

    key = models.CharField(max_length=64)
    n = models.BigIntegerField()

    def __str__(self) -> str:
        return f"{self.key} {self.n:+d}"
