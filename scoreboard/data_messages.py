"""Messages shown from data: labels that Python tables and the metrics catalogue hold in English and
the templates translate with ``|tr`` (``{{ s.label|tr }}``). Listed here so ``pybabel extract -k N_``
finds them; ``tests/test_translations.py`` fails when a label in those tables is missing here.

A new label in one of those tables: add it below and translate it (``pybabel update``).
"""

from __future__ import annotations


def N_(message: str) -> str:
    """Marks ``message`` for extraction; translated where it is shown."""
    return message


MESSAGES: dict[str, tuple[str, ...]] = {
    "stat labels (metrics.catalogue)": (
        N_("Activities"),
        N_("Activities per day"),
        N_("Calls per day"),
        N_("Card views"),
        N_("Connect rate"),
        N_("Connected calls"),
        N_("Content assists"),
        N_("Content shared per day"),
        N_("Deals won"),
        N_("Logging lag"),
        N_("Logins"),
        N_("Meetings booked"),
        N_("Meetings booked per day"),
        N_("Open deals with a current close date"),
        N_("Open deals with a next step"),
        N_("Opportunities created"),
        N_("Opportunities created per day"),
        N_("Pace vs quota"),
        N_("Pipeline hygiene"),
        N_("Proposals"),
        N_("Proposals per day"),
        N_("Quota attainment"),
        N_("Revenue won"),
        N_("Revenue won per day"),
        N_("SQLs followed up in time"),
        N_("Speed to lead"),
        N_("Stage advances per day"),
        N_("Weighted pipeline (xPipe)"),
        N_("Win rate, adjusted for sample size"),
    ),
    "sample labels (metrics.catalogue)": (
        N_("SQLs"),
        N_("activities logged"),
        N_("calls"),
        N_("closed deals"),
        N_("leads"),
        N_("open deals"),
        N_("wins"),
        N_("working days"),
    ),
    "no-value reasons (metrics.catalogue)": (
        N_("no activity logged in this period with a logging time"),
        N_("no calls in this period"),
        N_("no closed deals in this period"),
        N_("no deals won in this period"),
        N_("no new SQLs in this period"),
        N_("no open deals"),
        N_("no quota set for this period"),
        N_("no usage recorded"),
        N_("no working days played in this period"),
        N_("no working days played, or nobody in the org logged an activity in this period"),
    ),
    "goal metrics (metrics.goals)": (
        N_("Card views"),
        N_("Content downloads"),
        N_("Deals won"),
        N_("Logging lag (median hours)"),
        N_("Logins"),
        N_("MQLs"),
        N_("Meetings booked"),
        N_("New contacts"),
        N_("New customers"),
        N_("Opportunities"),
        N_("Revenue won"),
        N_("SQLs"),
        N_("SQLs created (marketing)"),
        N_("SQLs followed up within 24 h (%)"),
        N_("Speed to lead (median hours)"),
    ),
    "deal warnings (metrics.risk.settings)": (
        N_("Amount cut"),
        N_("Amount far above typical"),
        N_("Ghosted"),
        N_("No activity"),
        N_("No next step"),
        N_("No senior contact"),
        N_("Overdue"),
        N_("Owner changed"),
        N_("Single-threaded"),
        N_("Slipping"),
        N_("Stalled in stage"),
        N_("Ask what changed on the buyer's side before accepting another new date."),
        N_("Ask why the scope shrank and who else is in the decision."),
        N_("Book the next meeting before the end of this week."),
        N_("Call the buyer this week and agree a dated next step."),
        N_("Check scope and budget with the economic buyer."),
        N_("Confirm a realistic close date with the buyer, or mark it lost."),
        N_("Find out what blocks the move to the next stage, or close it out."),
        N_("Get a meeting with the budget holder before the proposal goes out."),
        N_("Get a second contact involved (a user, IT or finance)."),
        N_("New owner: introduce yourself and re-confirm the plan with the buyer."),
        N_("Reach another contact at the account, or ask the champion plainly if it is still on."),
    ),
    "board periods and picker choices": (
        N_("last 20 working days"),
        N_("last 60 working days"),
        N_("this fiscal year"),
        N_("this month"),
        N_("this quarter"),
        N_("this week"),
        N_("today"),
    ),
    "card faces, sparklines, groups": (
        N_("Activities"),
        N_("Activity"),
        N_("Control"),
        N_("Creation"),
        N_("Finishing"),
        N_("Meetings booked"),
        N_("Opportunities"),
        N_("Pressing"),
        N_("Progression"),
        N_("Stage advances"),
        N_("Work rate"),
    ),
    "competition formats": (
        N_("Head-to-head fixtures"),
        N_("League"),
        N_("Team vs team"),
    ),
    "goal owners": (
        N_("My goals"),
        N_("Sales (whole org)"),
        N_("Marketing"),
    ),
    "deal-warning statuses (metrics.risk.lift)": (
        N_("kept"),
        N_("muted"),
        N_("unmeasured"),
        N_("not applicable"),
        N_("no data"),
    ),
    "board rows (Board.entity + s)": (N_("reps"), N_("teams")),
    "the form rule (metrics.quota.FORM_RULE)": (
        N_(
            "Each week is judged by pace: what was won in the 13 weeks ending with it against the target "
            "for those weeks (pro-rated by working days). W: at or above target pace; D: up to 10% below "
            "it; L: further below; –: no target that week."
        ),
    ),
}
