"""Reads for the cross-app pages: the participant dashboard, the trial overview, the worklist.

Every derived number is taken from the rule functions the exports call: the schedule
engine (`visits.selectors.participant_schedule`), the IWG response
(`visits.selectors.participant_response`), the dose columns stored by the infusion service
with the deviation % of `infusions.dosing.deviation_pct` (as the infusions export gives
them), and the safety rules (`safety.rules`). This module only loads rows with a fixed
number of queries, calls those functions and arranges their results for the templates.
"""

from .common import infusion_dose, participants_for_pages, share
from .dashboard import Dashboard, participant_dashboard
from .trial import Overview, trial_overview
from .worklist import Worklist, worklist

__all__ = [
    "Dashboard",
    "Overview",
    "infusion_dose",
    "participant_dashboard",
    "participants_for_pages",
    "share",
    "trial_overview",
    "Worklist",
    "worklist",
]
