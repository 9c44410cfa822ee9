"""Deterministic demo sales org: ingest records plus the hidden truth that produced them.

Pure Python (numpy, ``holidays``); no database, no Flask. ``generate_demo_org`` simulates a
Norwegian B2B sales org and returns :class:`DemoOrg`, whose ``events`` are ingest API records
(``docs/ingest.md``, source ``"demo"``) sorted by time, and whose ``truth`` holds every hidden
parameter so that analytics can be tested against it. :class:`LiveFeed` continues the story in
real time for the simulator.

Calendar
--------
Org time zone Europe/Oslo. History = the previous ``quarters`` full calendar quarters plus the
current quarter up to ``now``. Working days are Mon–Fri minus Norwegian public holidays; reps
work 08:00–17:00 on them (a rare evening email, a rare weekend email). The simulation starts
90 days before the history so that pipeline is already flowing: contacts and deals that exist
at the history start are emitted once *at* the history start with their state then (their
``created_at`` keeps the true, earlier creation time); every ``at`` lies in
``[history_start, now]``.

The funnel
----------
1. **Arrivals.** Inbound contacts arrive per lead source as a Poisson process (per week for a
   24-rep org: web 140, paid 110, event 40, partner 20, referral 16; fewer on holidays and
   weekends) as ``subscriber`` or ``lead``, with a persona and a team territory.
2. **Marketing.** A contact becomes ``mql`` with P = source ``mql_rate`` x persona
   ``mql_mult`` after a gamma(2, 4 days) delay. Its content touches cluster in the days before
   the MQL moment (the last one triggers it); touches between MQL and SQL are consideration
   and decision content and pricing-page visits. An MQL becomes ``sql`` (P = ``sql_rate`` x
   persona ``sql_mult``) a few days later during working hours and is assigned to a random
   started rep of its team; other MQLs stay or are disqualified.
3. **Speed to lead.** The owner's first activity on an SQL comes after a lognormal delay with
   median ``speed_to_lead_hours`` (sigma 0.9); follow-ups landing after 21:00 or on a non-working
   day move to the next working morning.
4. **Booking.** Up to five attempts (calls with P = ``call_share`` during working hours, emails
   otherwise) 1–3 working days apart; a call is ``connected`` with P = ``connect_rate``; a
   connected call to an SQL books a meeting with P = min(0.9, 4 x ``meeting_rate``), an email
   with a quarter of that. SQLs that never book are disqualified half the time.
5. **Prospecting.** Each working day a rep does N ~ Poisson(effective activities/day)
   activities in total; what deal and SQL work has not used up goes to outbound prospects
   (new ``outbound`` leads owned by the rep, each worked up to six times within 30 days): calls
   (``call_share``), emails, content shares and notes. A connected cold call books a meeting
   with P = ``meeting_rate`` (an email with a quarter of it); the prospect becomes ``sql``
   minutes after the call and gets a confirmation email after the speed-to-lead delay.
6. **Meetings.** Meetings are 0–5 working days after booking; held with P = 0.85, a no-show is
   rebooked with P = 0.6 (then held with P = 0.75).
7. **Opportunities.** A held meeting creates a deal with P = ``opp_rate`` x source
   ``opp_mult`` x persona ``opp_mult`` (the multipliers average 1 over the deal mix); the
   contact becomes ``opportunity``. Amount: lognormal around the rep's ``deal_size``
   (segment range: SMB 85k–200k, mid-market 120k–450k, enterprise 250k–900k NOK); the first
   estimate is refined at discovery/demo and cut by 10–30 % at proposal or negotiation in 15 %
   of deals.
8. **Stages.** qualification → discovery → demo → proposal → negotiation → won; at each stage the
   deal advances with P = the rep's ``stage_conversion`` rescaled so that the product equals
   P(win) = ``win_rate`` x source ``win_mult`` x persona ``win_mult`` (capped at 0.9), else it is
   lost there (early: timing/no decision; late: price/competitor). Stage durations are
   gamma around 5/9/10/12/9 days (x1.45 enterprise, x0.7 SMB), so won cycles run ~30–90 days.
   30 % of lost deals stall first: no activity, no buyer engagement, close date pushed, then
   lost as "no decision" 40–90 days later (or still open at ``now``). Expected close dates get
   pushed 14–35 days when they pass; 2 % of deals change owner within the team.
9. **Deal work and buyer signals.** Discovery has a meeting, demo a demo, proposal a
   ``proposal`` activity (so every won deal has one), plus emails, calls, notes and content
   shares (which the buyer often opens). Buyers touch consideration/decision content and the
   pricing pages during the deal, more often when the deal will be won.

Time variation (see :meth:`RepTruth.effective`): weekday factors, new-hire ramp, the
improver's slope, the slumper's last four weeks.

Archetypes (``RepTruth.archetype``)
-----------------------------------
``grinder`` (40 activities/day, low meeting/opp/win rates) and ``sniper`` (11/day, high
rates) share a team; ``improver`` (connect and meeting rates +1.2 %/week around mid-history)
and ``slumper`` (last 28 days: activities x0.5, connect x0.6, response delay x3); ``new_hire``
(start ~8 weeks before ``now``, productivity 25 % → 100 % over 6 weeks, fewer leads meanwhile);
two ``twin`` reps with identical truth in one team; the rest ``steady`` with varied parameters.
With ``generate_demo_org(..., uniform_truth=True)`` there are no archetypes: every rep is a
``steady`` copy of one parameter draw, so any difference between reps is noise.

Goals
-----
Quarterly ``revenue_won`` per rep (the team's typical expected revenue x1.05, pro-rated for
ramping reps), team (sum) and org (sum), minor units; weekly ``meetings_booked`` KPIs per rep;
quarterly org ``sqls_created`` owned by marketing.
"""

from .generator import generate_demo_org
from .live import FeedSnapshot, LiveFeed
from .model import (
    DEAL_STAGES,
    DemoOrg,
    DemoTruth,
    EffectiveRates,
    GoalSpec,
    PersonaSpec,
    PersonaTruth,
    PersonSpec,
    RepTruth,
    SourceTruth,
    TeamSpec,
    stage_chain,
)

__all__ = [
    "DEAL_STAGES",
    "DemoOrg",
    "DemoTruth",
    "EffectiveRates",
    "FeedSnapshot",
    "GoalSpec",
    "LiveFeed",
    "PersonSpec",
    "PersonaSpec",
    "PersonaTruth",
    "RepTruth",
    "SourceTruth",
    "TeamSpec",
    "generate_demo_org",
    "stage_chain",
]
