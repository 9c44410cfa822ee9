"""Data classes of the demo org: the specs it emits and the hidden truth behind them."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from statistics import NormalDist
from typing import Any

import numpy as np

#: Deal stages in order; the last one converts to ``won``.
DEAL_STAGES: tuple[str, ...] = ("qualification", "discovery", "demo", "proposal", "negotiation")

#: Relative activity level per weekday (Mon..Fri); the mean is exactly 1.
WEEKDAY_FACTOR: tuple[float, ...] = (1.06, 1.08, 1.02, 0.99, 0.85)

#: Multipliers applied to a slumping rep's leading indicators from ``slump_start`` on.
SLUMP_ACTIVITY = 0.5
SLUMP_CONNECT = 0.6
SLUMP_SPEED = 3.0

#: Shape of the stage conversion chain; a rep's chain is ``BASE ** k`` so that the product is
#: the rep's win rate.
BASE_STAGE_CONVERSION: tuple[float, ...] = (0.78, 0.80, 0.82, 0.85, 0.88)


def stage_chain(win_rate: float) -> dict[str, float]:
    """Per-stage advance probabilities whose product equals ``win_rate``.

    Parameters
    ----------
    win_rate : float
        P(won | closed), in (0, 1).

    Returns
    -------
    dict[str, float]
        Stage name to P(advance to the next stage); ``negotiation`` advances to ``won``.

    Examples
    --------
    >>> chain = stage_chain(0.3)
    >>> round(math.prod(chain.values()), 6)
    0.3
    """
    k = math.log(win_rate) / math.log(math.prod(BASE_STAGE_CONVERSION))
    return {s: b**k for s, b in zip(DEAL_STAGES, BASE_STAGE_CONVERSION, strict=True)}


#: Spread (log-sd) of a rep's response delay to a new SQL.
RESPONSE_SIGMA = 0.9
#: Follow-ups are kept between these local hours on working days, else moved to ~08:15.
FOLLOW_UP_WINDOW = (7.0, 21.0)
MORNING_HOUR = 8.25


def _simulated_median(response_hours: float) -> float:
    """Wall-clock median delay on a grid of SQL instants and delay quantiles (see below)."""
    starts = np.array(
        [day * 86400 + sod for day in range(5) for sod in range(8 * 3600, int(16.75 * 3600), 900)],
        dtype=float,
    )
    z = np.array([NormalDist().inv_cdf((k + 0.5) / 100) for k in range(100)])
    land = starts[:, None] + (np.exp(RESPONSE_SIGMA * z) * response_hours * 3600)[None, :]
    day = np.floor(land / 86400)
    sod = land - day * 86400
    wd = day % 7
    lo, hi = FOLLOW_UP_WINDOW
    ok = (wd < 5) & (sod >= lo * 3600) & (sod < hi * 3600)
    same = (wd < 5) & (sod < lo * 3600)
    nxt = np.where(wd < 4, day + 1, day + (7 - wd))
    fixed = np.where(ok, land, np.where(same, day, nxt) * 86400 + MORNING_HOUR * 3600)
    return float(np.median(fixed - starts[:, None]) / 3600)


@lru_cache(maxsize=1)
def _speed_table() -> tuple[np.ndarray, np.ndarray]:
    """Log response medians and the (non-decreasing) wall-clock medians they produce."""
    log_resp = np.linspace(math.log(0.05), math.log(200.0), 121)
    med = np.array([_simulated_median(math.exp(x)) for x in log_resp])
    return log_resp, np.maximum.accumulate(med)


def wall_clock_median(response_hours: float) -> float:
    """Median wall-clock speed to lead for a raw response-delay median of ``response_hours``.

    SQLs arrive uniformly in working hours (08:00–16:45, Mon–Fri); the raw delay is
    lognormal(``log(response_hours)``, ``RESPONSE_SIGMA``); a follow-up landing outside
    07:00–21:00 or on a weekend moves to the next working morning (holidays ignored).
    Interpolated from a table computed once per process.

    Examples
    --------
    >>> round(wall_clock_median(1.0), 1)
    1.0
    >>> wall_clock_median(8.0) > 8.5
    True
    """
    log_resp, med = _speed_table()
    return float(np.interp(math.log(response_hours), log_resp, med))


def response_for_wall_clock(target_hours: float) -> float:
    """Raw response-delay median whose :func:`wall_clock_median` equals ``target_hours``.

    Examples
    --------
    >>> round(wall_clock_median(response_for_wall_clock(6.0)), 2)
    6.0
    """
    log_resp, med = _speed_table()
    return float(math.exp(np.interp(target_hours, med, log_resp)))


@dataclass(frozen=True)
class TeamSpec:
    """A sales team and its manager."""

    name: str
    manager_email: str


@dataclass(frozen=True)
class PersonSpec:
    """A person in the sales org (``role`` is ``"rep"`` or ``"manager"``)."""

    name: str
    email: str
    team: str
    role: str
    start_date: date
    tv_opt_out: bool


@dataclass(frozen=True)
class PersonaSpec:
    """A buyer persona (target group)."""

    name: str
    description: str


@dataclass(frozen=True)
class GoalSpec:
    """A goal for a period; ``target`` is in minor units for money metrics, a count otherwise.

    ``period_end`` is inclusive.
    """

    metric: str
    scope: str
    scope_key: str
    period_start: date
    period_end: date
    target: int
    kind: str
    owner_function: str


@dataclass(frozen=True)
class EffectiveRates:
    """A rep's true leading-indicator rates on one working day (all time effects applied)."""

    activities_per_day: float
    connect_rate: float
    meeting_rate: float
    speed_to_lead_hours: float


@dataclass(frozen=True)
class RepTruth:
    """Hidden true parameters of one rep.

    Attributes
    ----------
    email, archetype : str
        ``archetype`` is one of ``grinder``, ``sniper``, ``improver``, ``slumper``,
        ``new_hire``, ``twin``, ``steady``.
    activities_per_day : float
        Mean activities on a working day at full productivity, averaged over weekdays.
    call_share : float
        Share of the rep's prospecting activities that are calls.
    connect_rate : float
        P(a call is ``connected``).
    meeting_rate : float
        P(a connected cold call books a meeting); an email books with a quarter of that. Warm
        leads (SQLs) book with ``min(0.9, 4 * meeting_rate)`` per connected call.
    opp_rate : float
        P(a held first meeting creates a deal) for an average lead source and persona.
    stage_conversion : dict[str, float]
        P(advance to the next stage) per stage; the product equals ``win_rate``.
    win_rate : float
        P(won | closed) for an average lead source and persona.
    deal_size : float
        Mean deal amount in NOK (major units).
    speed_to_lead_hours : float
        Median wall-clock hours from a contact becoming ``sql`` to the owner's first activity
        on it, night/weekend moves included (see :func:`wall_clock_median`).
    start_date : date
        First working day; no activity before it.
    ramp : float
        Weeks until a new hire reaches full productivity (0 = no ramp). Productivity rises
        linearly from 25 % at ``start_date``.
    improving : float
        Relative change per week of the connect and meeting rates around
        ``improving_pivot`` (0 = flat).
    improving_pivot : date
        Date where the improvement multiplier is 1.
    slump_start : date or None
        From this date on activities x0.5, connect rate x0.6, raw response delay x3.
    response_hours : float
        Median of the raw (lognormal) response delay that yields ``speed_to_lead_hours``.
    """

    email: str
    archetype: str
    activities_per_day: float
    call_share: float
    connect_rate: float
    meeting_rate: float
    opp_rate: float
    stage_conversion: dict[str, float]
    win_rate: float
    deal_size: float
    speed_to_lead_hours: float
    start_date: date
    ramp: float = 0.0
    improving: float = 0.0
    improving_pivot: date | None = None
    slump_start: date | None = None
    response_hours: float = 0.0

    def productivity(self, on: date) -> float:
        """Ramp multiplier on activities (0 before ``start_date``, 1 once ramped)."""
        if on < self.start_date:
            return 0.0
        if self.ramp <= 0:
            return 1.0
        weeks = (on - self.start_date).days / 7.0
        return min(1.0, 0.25 + 0.75 * weeks / self.ramp)

    def _improvement(self, on: date) -> float:
        if not self.improving or self.improving_pivot is None:
            return 1.0
        weeks = (on - self.improving_pivot).days / 7.0
        return min(1.5, max(0.5, 1.0 + self.improving * weeks))

    def effective(self, on: date) -> EffectiveRates:
        """True rates on working day ``on``, with weekday, ramp, improvement and slump applied.

        Parameters
        ----------
        on : date
            A working day (Mon–Fri) in the org's time zone.

        Returns
        -------
        EffectiveRates
            ``activities_per_day`` is the expected count of activities that day.
        """
        prod = self.productivity(on)
        imp = self._improvement(on)
        slump = self.slump_start is not None and on >= self.slump_start
        wd = WEEKDAY_FACTOR[on.weekday()] if on.weekday() < 5 else 0.0
        apd = self.activities_per_day * wd * prod * (SLUMP_ACTIVITY if slump else 1.0)
        ramp_quality = 0.7 + 0.3 * prod if prod > 0 else 0.0
        connect = min(0.95, self.connect_rate * imp * ramp_quality)
        connect *= SLUMP_CONNECT if slump else 1.0
        meeting = min(0.95, self.meeting_rate * imp)
        speed = self.speed_to_lead_hours
        if slump:
            speed = wall_clock_median(self.response_hours * SLUMP_SPEED)
        return EffectiveRates(apd, connect, meeting, speed)


@dataclass(frozen=True)
class SourceTruth:
    """True quality of a lead source.

    ``arrivals_per_week`` new contacts (0 for ``outbound``, which reps create), ``mql_rate``
    P(contact → mql), ``sql_rate`` P(mql → sql), ``opp_mult`` and ``win_mult`` multiply a
    rep's ``opp_rate`` and ``win_rate`` (normalised so the org-wide deal mix averages 1).
    """

    arrivals_per_week: float
    mql_rate: float
    sql_rate: float
    opp_mult: float
    win_mult: float


@dataclass(frozen=True)
class PersonaTruth:
    """True quality of a buyer persona: its share of contacts and rate multipliers."""

    share: float
    mql_mult: float
    sql_mult: float
    opp_mult: float
    win_mult: float


@dataclass(frozen=True)
class DemoTruth:
    """Everything hidden behind the generated data.

    ``expected_revenue`` maps each rep's email to their planted revenue skill: the expected won
    revenue per quarter (NOK, major units) at full productivity, from the rep's rates (activities,
    call share, connect, meeting, opportunity and win rates, deal size) and the team's share of
    inbound leads, as the generator sets quotas from it (rough: ranks reps, not a forecast).
    """

    reps: dict[str, RepTruth]
    sources: dict[str, SourceTruth]
    personas: dict[str, PersonaTruth]
    seed: int
    history_start: datetime
    now: datetime
    expected_revenue: dict[str, float] = field(default_factory=dict)
    #: Start of the deal history (before ``history_start`` when deal-only quarters were added).
    deal_history_start: datetime | None = None


@dataclass(frozen=True)
class DemoOrg:
    """A generated demo sales org: specs, goals, ingest records and the truth behind them."""

    teams: list[TeamSpec]
    people: list[PersonSpec]
    personas: list[PersonaSpec]
    goals: list[GoalSpec]
    events: list[dict[str, Any]] = field(repr=False)
    truth: DemoTruth = field(repr=False)
    #: Ids of the deals of the deal-only history (``history.py``): their records are in ``events``
    #: and may be stored after the rest (the first start serves before they are in).
    history_deal_ids: frozenset[str] = field(default_factory=frozenset, repr=False)
