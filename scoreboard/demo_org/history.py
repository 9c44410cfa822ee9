"""Deal-only history before the activity history: quarters a forecast back-test can learn from.

The activity simulation (:mod:`.generator`) is detailed and costs time per record, so it covers
only the last ``quarters`` quarters. :func:`add_deal_history` adds deals created before that,
back to ``deal_quarters`` full quarters before the current one: their stage changes, amount
changes, expected-close pushes and owner changes, but no contacts, activities or touches (a CRM
whose activity log was switched on later looks like this).

Known truths planted here (research ``forecasting.md`` §1.3; a back-test should find them):

* **End-of-quarter rush.** A won deal whose natural close falls in the first
  :data:`RUSH_DAYS_AFTER` days of a quarter is closed instead in the last :data:`RUSH_WINDOW`
  days of the quarter before with probability :data:`RUSH_P` (when its proposal went out at
  least two days before; the negotiation is squeezed), so
  closing in the last two weeks runs at about twice the rate of the weeks before.
* **Slow deals lose more.** Each deal has a speed factor ``v ~ lognormal(0, SPEED_SIGMA)`` that
  stretches every stage; its win probability is the rep's ``win_rate x v**-SLOW_SLOPE``
  (normalised so the mean over ``v`` is the rep's rate, capped at 0.9).
* **Pushed close dates lose more.** The first expected close assumes a typical speed, so slow
  deals (which lose more) pass it and get pushed 14–35 days each time; 30 % of lost deals stall
  first and keep being pushed until they are lost as "no decision"; and each push of a deal
  that was going to be won turns it into a loss ("no decision", 7–40 days later) with
  probability :data:`PUSH_LOSE_P`.

Deals are drawn per working day per rep as Poisson counts at the rep's own rate of new deals in
the activity history, so volumes match across the boundary. Its own random stream (seeded from
the org's seed) leaves the activity simulation byte-for-byte unchanged.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from .calendar import DAY, HOUR, Calendar, local_midnight, quarter_start
from .model import BASE_STAGE_CONVERSION, DEAL_STAGES
from .names import COMPANY_PREFIX, COMPANY_SUFFIX, PRODUCTS, SEGMENTS

if TYPE_CHECKING:
    from .generator import _Sim

SPEED_SIGMA = 0.45
SLOW_SLOPE = 1.0
RUSH_DAYS_AFTER = 21
RUSH_WINDOW = 12
RUSH_P = 0.5
STALL_P = 0.3
CUT_P = 0.15
OWNER_CHANGE_P = 0.02
PUSH_P_STALLED = 0.5
PUSH_LOSE_P = 0.25
LOG_BASE_PROD = math.log(math.prod(BASE_STAGE_CONVERSION))
STAGE_DAYS = np.array([5.0, 9.0, 10.0, 12.0, 9.0])
WARMUP_DAYS = 90
#: Mean of ``v**-SLOW_SLOPE`` over the speed distribution (keeps the rep's mean win rate).
SLOW_NORM = math.exp(0.5 * (SLOW_SLOPE * SPEED_SIGMA) ** 2)
EARLY_LOSS = (("timing", 0.35), ("no decision", 0.35), ("price", 0.15), ("competitor", 0.15))
LATE_LOSS = (("price", 0.35), ("competitor", 0.35), ("no decision", 0.15), ("timing", 0.15))


class _History:
    def __init__(self, sim: _Sim, first: date, until: int):
        from .generator import _Deal, _FastRng, _round_amount

        self.sim = sim
        self.Deal = _Deal
        self.round_amount = _round_amount
        self.rng = _FastRng(np.random.default_rng([sim.seed, 0x5EED]))
        self.cal = Calendar.build(first - timedelta(days=WARMUP_DAYS), sim.today + timedelta(days=420))
        self.until = until  # deals created before this instant (the activity simulation's start)

    def work_t(self, d: int) -> int:
        return int(self.cal.midnight[d] + self.rng.uniform(8 * HOUR, 16.75 * HOUR))

    def snap_work(self, t: int) -> int:
        cal = self.cal
        d = cal.day_of(t)
        return self.work_t(cal.working_day(d if cal.working[d] else d + 1))

    def rates(self) -> tuple[np.ndarray, dict[int, list[str]]]:
        """New deals per working day per rep in the activity history, and lead sources by team."""
        sim = self.sim
        counts = np.zeros(sim.n_reps)
        sources: dict[int, list[str]] = {}
        for deal in sim.deals:
            if deal.created < sim.hs_ts or deal.contact < 0:
                continue
            rep = deal.changes[0][1]["owner"]
            counts[rep] += 1
            sources.setdefault(sim.rep_team[rep], []).append(sim.contacts[deal.contact].source)
        cal = sim.cal
        lo, hi = sim.d_hs, sim.d_now
        working = cal.working[lo : hi + 1]
        days = np.array(
            [max(1, int(working[max(0, int(sim.rep_start_day[r]) - lo) :].sum())) for r in range(sim.n_reps)]
        )
        return counts / days, sources

    def run(self) -> None:
        sim, cal, rng = self.sim, self.cal, self.rng
        rate, sources = self.rates()
        start_day = np.array([(tr.start_date - cal.dates[0]).days for tr in sim.rep_truth])
        last = cal.day_of(self.until) - 1
        for d in range(0, last + 1):
            if not cal.working[d]:
                continue
            active = np.flatnonzero(start_day <= d)
            if not len(active):
                continue
            n = rng.poisson(rate[active])
            for r in np.repeat(active, n):
                src = sources.get(sim.rep_team[r]) or ["web"]
                self.deal(int(r), self.work_t(d), src[rng.integers(len(src))], start_day)

    def deal(self, rep: int, t0: int, source: str, start_day: np.ndarray) -> None:
        sim, cal, rng = self.sim, self.cal, self.rng
        tr = sim.rep_truth[rep]
        team = sim.rep_team[rep]
        seg = sim.team_segment[team]
        _mean, lo, hi, factor = SEGMENTS[seg]
        v = float(np.exp(SPEED_SIGMA * rng.standard_normal()))
        p_win = min(0.9, tr.win_rate * v**-SLOW_SLOPE / SLOW_NORM)
        conv = np.array(BASE_STAGE_CONVERSION) ** (math.log(p_win) / LOG_BASE_PROD)
        fails = np.flatnonzero(rng.random(5) >= conv)
        fail = int(fails[0]) if len(fails) else -1
        won = fail < 0
        last = 4 if won else fail
        durs = STAGE_DAYS * factor * v * rng.gamma(3.0, 1 / 3.0, 5)
        ts = [t0]
        for i in range(1, last + 1):
            ts.append(self.work_t(cal.working_day(cal.day_of(ts[-1] + int(durs[i - 1] * DAY)) + 1)))
        stall_start = -1
        reason = None
        if won:
            t_close = self.work_t(cal.working_day(cal.day_of(ts[4] + int(durs[4] * DAY))))
            t_close = self.rush(t_close, ts[-2])
            if ts[-1] >= t_close:  # pulled in: negotiation is squeezed to make the quarter
                ts[-1] = ts[-2] + (t_close - ts[-2]) // 2
        else:
            t_close = self.snap_work(ts[fail] + int(durs[fail] * rng.uniform(0.3, 1.0) * DAY))
            if rng.random() < STALL_P:
                stall_start = ts[fail] + int(durs[fail] * 0.3 * DAY)
                t_close = self.snap_work(stall_start + int(rng.uniform(40, 90) * DAY))
                reason = "no decision"
            else:
                reasons = EARLY_LOSS if fail <= 1 else LATE_LOSS
                cdf = np.cumsum([w for _, w in reasons]).tolist()
                reason = reasons[min(bisect_right(cdf, rng.random()), len(reasons) - 1)][0]
        if t_close <= ts[-1]:
            t_close = ts[-1] + int(rng.uniform(1, 4) * HOUR)
        amount_true = self.round_amount(tr.deal_size * rng.lognormal(-(0.35**2) / 2, 0.35), lo, hi)
        amount0 = self.round_amount(amount_true * rng.uniform(0.85, 1.25), lo, hi)
        planned = float(STAGE_DAYS.sum() * factor * rng.uniform(0.8, 1.1))
        exp_close = cal.dates[cal.day_of(t0 + int(planned * DAY))]
        product = PRODUCTS[min(len(PRODUCTS) - 1, int(rng.integers(2)) + (2 if seg == "enterprise" else 0))]
        company = (
            f"{COMPANY_PREFIX[int(rng.integers(len(COMPANY_PREFIX)))]} "
            f"{COMPANY_SUFFIX[int(rng.integers(len(COMPANY_SUFFIX)))]} AS"
        )
        deal = self.Deal(-1, f"{company} – {product}", t0, account=company, source=source)
        changes: list[tuple[int, dict[str, Any]]] = [
            (
                t0,
                dict(
                    stage="qualification",
                    amount=amount0,
                    owner=rep,
                    expected_close=exp_close,
                    lost_reason=None,
                    closed_at=None,
                ),
            )
        ]
        owner = rep
        for i in range(1, last + 1):
            upd: dict[str, Any] = {"stage": DEAL_STAGES[i]}
            if i == 1 or (i == 2 and rng.random() < 0.5):
                upd["amount"] = amount_true
            if i >= 3 and rng.random() < CUT_P:
                amount_true = self.round_amount(amount_true * rng.uniform(0.7, 0.9), lo, hi)
                upd["amount"] = amount_true
            if rng.random() < OWNER_CHANGE_P:
                d = cal.day_of(ts[i])
                others = [r for r in sim.team_reps[team] if r != owner and start_day[r] <= d]
                if others:
                    owner = others[int(rng.integers(len(others)))]
                    upd["owner"] = owner
            changes.append((ts[i], upd))
        t_exp = local_midnight(exp_close) + DAY
        while True:
            t_push = self.work_t(cal.working_day(cal.day_of(t_exp) + int(rng.integers(0, 4))))
            if t_push >= t_close - DAY or t_push > sim.now_ts:
                break
            if stall_start >= 0 and t_push > stall_start and rng.random() > PUSH_P_STALLED:
                t_exp += 30 * DAY
                continue
            exp_close = exp_close + timedelta(days=int(rng.integers(14, 36)))
            changes.append((t_push, {"expected_close": exp_close}))
            t_exp = local_midnight(exp_close) + DAY
            if won and rng.random() < PUSH_LOSE_P:  # a slipped deal may never come back
                won, reason = False, "no decision"
                t_close = max(t_push + HOUR, self.snap_work(t_push + int(rng.uniform(7, 40) * DAY)))
                changes = [c for c in changes if c[0] < t_close]
        if t_close <= sim.now_ts:
            if won:
                changes.append((t_close, {"stage": "won", "closed_at": t_close}))
            else:
                changes.append((t_close, {"stage": "lost", "closed_at": t_close, "lost_reason": reason}))
        deal.changes = changes
        sim.deals.append(deal)

    def rush(self, t_close: int, t_proposal: int) -> int:
        """The end-of-quarter rush: pull a close from early next quarter into this one's last days
        (any day of them at least two days after the proposal went out)."""
        cal, rng = self.cal, self.rng
        day = cal.dates[cal.day_of(t_close)]
        qs = quarter_start(day)
        if (day - qs).days >= RUSH_DAYS_AFTER or rng.random() >= RUSH_P:
            return t_close
        first = cal.day_of(local_midnight(qs - timedelta(days=RUSH_WINDOW)))
        lo = max(first, cal.day_of(t_proposal) + 2)
        end = cal.day_of(local_midnight(qs)) - 1
        options = [d for d in range(lo, end + 1) if cal.working[d]]
        if not options:
            return t_close
        return self.work_t(options[int(rng.integers(len(options)))])


def add_deal_history(sim: _Sim, first: date) -> None:
    """Append to ``sim.deals`` the deal-only history created from ``first - 90 days`` until the
    activity simulation's first day (see the module docstring)."""
    _History(sim, first, int(sim.cal.midnight[0])).run()
