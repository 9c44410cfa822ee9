"""The simulation behind :func:`generate_demo_org` (see the package docstring for the funnel)."""

from __future__ import annotations

import gc
import math
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np

from .calendar import DAY, HOUR, OSLO, Calendar, local_midnight, quarter_end, quarter_start
from .model import (
    BASE_STAGE_CONVERSION,
    DEAL_STAGES,
    RESPONSE_SIGMA,
    SLUMP_SPEED,
    DemoOrg,
    DemoTruth,
    GoalSpec,
    PersonaSpec,
    PersonaTruth,
    PersonSpec,
    RepTruth,
    SourceTruth,
    TeamSpec,
    response_for_wall_clock,
    stage_chain,
)
from .names import (
    COMPANY_PREFIX,
    COMPANY_SUFFIX,
    CONTACT_FIRST,
    CONTACT_LAST,
    CONTENT,
    CONTENT_BASE_URL,
    MANAGERS,
    PERSONAS,
    PRODUCTS,
    REP_NAMES,
    SEGMENTS,
    TEAMS,
    slug,
)

SOURCE = "demo"
EMAIL_DOMAIN = "matchday.demo"
WARMUP_DAYS = 90
LOG_BASE_PROD = math.log(math.prod(BASE_STAGE_CONVERSION))
#: Mean days per stage for a mid-market deal (times the segment factor).
STAGE_DAYS = np.array([5.0, 9.0, 10.0, 12.0, 9.0])
HELD_P = 0.85
REBOOK_P = 0.6
REBOOK_HELD_P = 0.75
INBOUND_ATTEMPTS = 5
WARM_MEETING_MULT = 4.0
EMAIL_BOOK_MULT = 0.25
NEW_PROSPECT_P = 0.15
PROSPECT_MAX_AGE = 30 * DAY
STALL_P = 0.3
CUT_P = 0.15
PUSH_P_STALLED = 0.5
OWNER_CHANGE_P = 0.02
MISS_OUTCOMES = ("no_answer", "voicemail", "busy", "wrong_number")
MISS_CDF = [0.5, 0.85, 0.95]
EARLY_LOSS = (("timing", 0.35), ("no decision", 0.35), ("price", 0.15), ("competitor", 0.15))
LATE_LOSS = (("price", 0.35), ("competitor", 0.35), ("no decision", 0.15), ("timing", 0.15))

# name: (arrivals/week for a 24-rep org, mql rate, sql rate, opp mult, win mult,
#        weekend weight, share starting as subscriber)
SOURCES: dict[str, tuple[float, float, float, float, float, float, float]] = {
    "web": (140.0, 0.25, 0.30, 0.95, 0.95, 0.5, 0.6),
    "paid": (110.0, 0.18, 0.22, 0.55, 0.55, 0.5, 0.7),
    "event": (40.0, 0.45, 0.45, 1.20, 1.20, 0.1, 0.0),
    "referral": (16.0, 0.70, 0.65, 1.50, 1.60, 0.1, 0.0),
    "partner": (20.0, 0.50, 0.50, 1.10, 1.05, 0.1, 0.0),
    "outbound": (0.0, 0.0, 0.0, 0.85, 0.90, 0.0, 0.0),
}
CHANNELS = {
    "web": (("web", "direct", "social"), (0.6, 0.25, 0.15)),
    "paid": (("ads", "web", "social"), (0.6, 0.25, 0.15)),
    "event": (("event", "email", "web"), (0.4, 0.4, 0.2)),
    "referral": (("email", "direct", "web"), (0.5, 0.3, 0.2)),
    "partner": (("email", "web", "event"), (0.5, 0.35, 0.15)),
    "outbound": (("email", "web", "direct"), (0.6, 0.3, 0.1)),
}
CHANNEL_CDF = {k: np.cumsum(v[1]).tolist() for k, v in CHANNELS.items()}
# persona: (share, mql mult, sql mult, opp mult, win mult)
PERSONA_Q: dict[str, tuple[float, float, float, float, float]] = {
    "CFO": (0.15, 0.9, 1.1, 1.10, 1.20),
    "IT lead": (0.22, 1.1, 0.8, 0.90, 0.90),
    "Head of Sales": (0.20, 1.2, 1.2, 1.20, 1.15),
    "Operations manager": (0.18, 1.0, 0.9, 0.90, 0.85),
    "Procurement": (0.10, 0.7, 0.7, 0.70, 0.75),
    "CEO/founder": (0.15, 0.9, 1.3, 1.20, 1.10),
}
ACTION_BY_KIND = {
    "article": "view",
    "case_study": "view",
    "whitepaper": "download",
    "ebook": "download",
    "webinar": "view",
    "video": "view",
    "pricing_page": "visit",
    "product_page": "visit",
}
EXTRA_URLS = ("/", "/about", "/careers", "/contact", "/blog")


@dataclass
class _Contact:
    email: str
    name: str
    company: str
    title: str
    persona: int
    source: str
    team: int
    created: int
    consent: bool
    versions: list[tuple[int, str, int]] = field(default_factory=list)  # (t, stage, owner)

    @property
    def stage(self) -> str:
        return self.versions[-1][1]

    @property
    def owner(self) -> int:
        return self.versions[-1][2]


@dataclass
class _Deal:
    contact: int
    name: str
    created: int
    changes: list[tuple[int, dict[str, Any]]] = field(default_factory=list)
    account: str | None = None  # deal-only history (contact -1): the account and lead source
    source: str | None = None


class _FastRng:
    """A ``numpy.random.Generator`` whose scalar uniform draws come from a pre-drawn buffer.

    Scalar ``random``/``uniform``/``integers``/``choice`` cost a list lookup instead of a numpy
    call; everything else is delegated. Deterministic for a given seed.
    """

    _CHUNK = 1 << 16

    def __init__(self, gen: np.random.Generator):
        self.gen = gen
        self._next = iter(()).__next__

    def random(self, size: int | tuple[int, ...] | None = None) -> Any:
        if size is not None:
            return self.gen.random(size)
        try:
            return self._next()
        except StopIteration:
            self._next = iter(self.gen.random(self._CHUNK).tolist()).__next__
            return self._next()

    def uniform(self, low: float, high: float, size: int | None = None) -> Any:
        if size is not None:
            return self.gen.uniform(low, high, size)
        try:
            return low + (high - low) * self._next()
        except StopIteration:
            return low + (high - low) * self.random()

    def integers(self, low: int, high: int | None = None) -> int:
        if high is None:
            low, high = 0, low
        return low + int(self.random() * (high - low))

    def choice(self, seq: list[int] | tuple[int, ...]) -> int:
        return seq[int(self.random() * len(seq))]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.gen, name)


def _round_amount(x: float, lo: int, hi: int) -> int:
    return int(min(hi, max(lo, round(x / 5000.0) * 5000)))


class _Sim:
    """Mutable state of one generation run."""

    def __init__(
        self,
        seed: int,
        n_reps: int,
        quarters: int,
        n_teams: int,
        now: datetime,
        uniform_truth: bool = False,
        deal_quarters: int | None = None,
    ):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if not 1 <= n_teams <= len(TEAMS):
            raise ValueError(f"teams must be between 1 and {len(TEAMS)}")
        if n_reps < n_teams:
            raise ValueError("need at least one rep per team")
        self.rng = _FastRng(np.random.default_rng(seed))
        self.seed = seed
        self.now = now.astimezone(UTC)
        self.now_ts = int(self.now.timestamp())
        today = self.now.astimezone(OSLO).date()
        self.today = today
        self.hs_date = quarter_start(today, quarters)
        self.hs_ts = local_midnight(self.hs_date)
        # deal-only history (``history.py``) back to ``deal_quarters`` quarters before this one
        self.dhs_date = quarter_start(today, max(quarters, deal_quarters or 0))
        self.dhs_ts = local_midnight(self.dhs_date)
        self.cal = Calendar.build(self.hs_date - timedelta(days=WARMUP_DAYS), today + timedelta(days=420))
        self.d_now = self.cal.day_of(self.now_ts)
        self.d_hs = self.cal.day_of(self.hs_ts)
        self.scale = n_reps / 24.0
        self.n_teams = n_teams
        self.n_reps = n_reps
        self.uniform_truth = uniform_truth
        # stores
        self.contacts: list[_Contact] = []
        self.deals: list[_Deal] = []
        # (t, rep, kind, contact, deal, content, outcome, duration)
        self.activities: list[tuple[int, int, str, int, int, int, str | None, int]] = []
        # (t, contact, action, content, url, seconds, channel)
        self.touches: list[tuple[int, int, str, int, str | None, int, str]] = []
        self.used_emails: set[str] = set()
        self._build_people()
        self._build_content()
        self.load = np.zeros((n_reps, len(self.cal.dates)), dtype=np.int32)
        self._effective_arrays()

    # ------------------------------------------------------------------ people and truth
    def _build_people(self) -> None:
        rng = self.rng
        n_reps, n_teams = self.n_reps, self.n_teams
        self.team_names = [TEAMS[i][0] for i in range(n_teams)]
        self.team_segment = [TEAMS[i][1] for i in range(n_teams)]
        names = list(REP_NAMES)
        order = rng.permutation(len(names))
        pool = [names[i] for i in order]
        while len(pool) < n_reps + n_teams:
            pool.append(
                f"{CONTACT_FIRST[len(pool) % len(CONTACT_FIRST)]} "
                f"{CONTACT_LAST[(len(pool) * 7) % len(CONTACT_LAST)]}"
            )
        sizes = [n_reps // n_teams + (1 if i < n_reps % n_teams else 0) for i in range(n_teams)]
        special = [
            ("grinder", 2),
            ("sniper", 2),
            ("improver", 0),
            ("slumper", 0),
            ("new_hire", 1),
            ("twin", 1),
            ("twin", 1),
        ]
        slots: list[list[str]] = [[] for _ in range(n_teams)]
        for arch, team in special:
            t = team % n_teams
            if len(slots[t]) >= sizes[t]:
                free = [i for i in range(n_teams) if len(slots[i]) < sizes[i]]
                if not free:
                    break
                t = free[0]
            slots[t].append(arch)
        for t in range(n_teams):
            slots[t] += ["steady"] * (sizes[t] - len(slots[t]))
        used: set[str] = set()

        def email_of(name: str) -> str:
            base = slug(name).replace("-", ".", 1).replace("-", "")
            email, k = f"{base}@{EMAIL_DOMAIN}", 2
            while email in used:
                email, k = f"{base}{k}@{EMAIL_DOMAIN}", k + 1
            used.add(email)
            return email

        self.teams: list[TeamSpec] = []
        self.people: list[PersonSpec] = []
        mgr_names = list(MANAGERS)
        for t in range(n_teams):
            name = mgr_names[t] if t < len(mgr_names) else pool.pop()
            email = email_of(name)
            self.teams.append(TeamSpec(self.team_names[t], email))
            start = self.hs_date - timedelta(days=int(rng.integers(700, 2500)))
            self.people.append(PersonSpec(name, email, self.team_names[t], "manager", start, False))
        pivot = self.hs_date + (self.today - self.hs_date) / 2
        twin_params: RepTruth | None = None
        uniform_params: RepTruth | None = None
        self.rep_email: list[str] = []
        self.rep_team: list[int] = []
        self.rep_truth: list[RepTruth] = []
        steady_idx: list[int] = []
        opt_outs = 0
        for t in range(n_teams):
            seg_mean = SEGMENTS[self.team_segment[t]][0]
            for arch in slots[t]:
                name = pool.pop(0)
                email = email_of(name)
                start = self.hs_date - timedelta(days=int(rng.integers(150, 1600)))
                p = dict(
                    activities_per_day=float(rng.uniform(13, 20)),
                    call_share=float(rng.uniform(0.45, 0.65)),
                    connect_rate=float(rng.uniform(0.17, 0.28)),
                    meeting_rate=float(rng.uniform(0.15, 0.22)),
                    opp_rate=float(rng.uniform(0.4, 0.6)),
                    win_rate=float(rng.uniform(0.22, 0.40)),
                    deal_size=seg_mean * float(rng.lognormal(0.0, 0.12)),
                    speed_to_lead_hours=float(np.exp(rng.uniform(np.log(1.0), np.log(10.0)))),
                )
                extra: dict[str, Any] = {}
                if self.uniform_truth:
                    # every rep a copy of the first rep's steady draw (the draws above still
                    # happen, so the rest of the org uses the same random stream)
                    arch = "steady"
                if arch == "grinder":
                    p.update(
                        activities_per_day=40.0,
                        call_share=0.7,
                        connect_rate=0.16,
                        meeting_rate=0.12,
                        opp_rate=0.4,
                        win_rate=0.15,
                        speed_to_lead_hours=1.5,
                        deal_size=seg_mean * 0.85,
                    )
                elif arch == "sniper":
                    p.update(
                        activities_per_day=11.0,
                        call_share=0.45,
                        connect_rate=0.32,
                        meeting_rate=0.26,
                        opp_rate=0.65,
                        win_rate=0.55,
                        speed_to_lead_hours=4.0,
                        deal_size=seg_mean * 1.2,
                    )
                elif arch == "improver":
                    extra = dict(improving=0.012, improving_pivot=pivot)
                    p.update(connect_rate=0.25, meeting_rate=0.19, opp_rate=0.5, win_rate=0.3)
                elif arch == "slumper":
                    extra = dict(slump_start=self.today - timedelta(days=28))
                    p.update(activities_per_day=24.0, connect_rate=0.24, speed_to_lead_hours=2.0)
                elif arch == "new_hire":
                    start = self.cal.dates[self.cal.working_day(self.cal.day_of(self.now_ts - 56 * DAY))]
                    extra = dict(ramp=6.0)
                    p.update(win_rate=0.25, speed_to_lead_hours=3.0)
                if arch == "twin" and twin_params is not None:
                    truth = RepTruth(**{**twin_params.__dict__, "email": email})
                    start = twin_params.start_date
                elif uniform_params is not None:
                    truth = RepTruth(**{**uniform_params.__dict__, "email": email})
                    start = uniform_params.start_date
                else:
                    truth = RepTruth(
                        email=email,
                        archetype=arch,
                        stage_conversion=stage_chain(p["win_rate"]),
                        start_date=start,
                        **p,
                        **extra,
                        response_hours=response_for_wall_clock(p["speed_to_lead_hours"]),
                    )
                    if arch == "twin":
                        twin_params = truth
                    if self.uniform_truth:
                        uniform_params = truth
                tv_opt_out = False
                if arch == "steady":
                    steady_idx.append(len(self.rep_email))
                    if opt_outs < 2 and len(steady_idx) in (2, 9):
                        tv_opt_out, opt_outs = True, opt_outs + 1
                self.people.append(PersonSpec(name, email, self.team_names[t], "rep", start, tv_opt_out))
                self.rep_email.append(email)
                self.rep_team.append(t)
                self.rep_truth.append(truth)
        self.team_reps = [[r for r in range(n_reps) if self.rep_team[r] == t] for t in range(n_teams)]
        self.rep_start_day = np.array(
            [max(0, (tr.start_date - self.cal.dates[0]).days) for tr in self.rep_truth]
        )
        self._build_market_truth()

    def _build_market_truth(self) -> None:
        """Sources and personas, with multipliers normalised over the expected deal mix."""
        pers = list(PERSONA_Q)
        share = np.array([PERSONA_Q[p][0] for p in pers])
        sqlm = np.array([PERSONA_Q[p][2] * PERSONA_Q[p][1] for p in pers])
        p_opp = np.array([PERSONA_Q[p][3] for p in pers])
        p_win = np.array([PERSONA_Q[p][4] for p in pers])
        w_meet = share * sqlm / (share * sqlm).sum()
        p_opp = p_opp / (w_meet * p_opp).sum()
        w_deal = w_meet * p_opp / (w_meet * p_opp).sum()
        p_win = p_win / (w_deal * p_win).sum()
        self.personas_truth = {
            p: PersonaTruth(
                float(share[i]), PERSONA_Q[p][1], PERSONA_Q[p][2], float(p_opp[i]), float(p_win[i])
            )
            for i, p in enumerate(pers)
        }
        self.persona_names = pers
        self.persona_share = share / share.sum()
        self.persona_cdf = np.cumsum(self.persona_share).tolist()
        srcs = list(SOURCES)
        # expected meetings per week by source (inbound: SQLs x ~0.55 booked; outbound: rough)
        sql_week = np.array([SOURCES[s][0] * SOURCES[s][1] * SOURCES[s][2] for s in srcs])
        meet = sql_week * 0.55
        meet[srcs.index("outbound")] = 24 * 1.2
        s_opp = np.array([SOURCES[s][3] for s in srcs])
        s_win = np.array([SOURCES[s][4] for s in srcs])
        w_meet_s = meet / meet.sum()
        s_opp = s_opp / (w_meet_s * s_opp).sum()
        w_deal_s = w_meet_s * s_opp / (w_meet_s * s_opp).sum()
        s_win = s_win / (w_deal_s * s_win).sum()
        self.sources_truth = {
            s: SourceTruth(
                SOURCES[s][0] * self.scale, SOURCES[s][1], SOURCES[s][2], float(s_opp[i]), float(s_win[i])
            )
            for i, s in enumerate(srcs)
        }

    def _build_content(self) -> None:
        self.content = list(CONTENT)
        self.content_ids = [f"content-{i + 1:03d}" for i in range(len(self.content))]
        n_p = len(self.persona_names)
        self.content_cdf: dict[tuple[str, int], list[float]] = {}
        for phases in ("awareness", "consideration", "decision", "late"):
            allowed = ("consideration", "decision") if phases == "late" else (phases,)
            for pi in range(n_p):
                w = np.array(
                    [
                        (3.0 if self.persona_names[pi] in c[3] else 1.0)
                        if c[2] in allowed and c[1] != "pricing_page"
                        else 0.0
                        for c in self.content
                    ]
                )
                self.content_cdf[(phases, pi)] = (np.cumsum(w) / w.sum()).tolist()
        self.pricing = [i for i, c in enumerate(self.content) if c[1] == "pricing_page"]

    def _effective_arrays(self) -> None:
        cal = self.cal
        n = len(cal.dates)
        self.eff_apd = np.zeros((self.n_reps, n))
        self.eff_connect = np.zeros((self.n_reps, n))
        self.eff_meeting = np.zeros((self.n_reps, n))
        self.eff_speed = np.zeros((self.n_reps, n))
        for r, tr in enumerate(self.rep_truth):
            for d in range(n):
                e = tr.effective(cal.dates[d])
                self.eff_apd[r, d] = e.activities_per_day if cal.working[d] else 0.0
                self.eff_connect[r, d] = e.connect_rate
                self.eff_meeting[r, d] = e.meeting_rate
                slump = tr.slump_start is not None and cal.dates[d] >= tr.slump_start
                self.eff_speed[r, d] = tr.response_hours * (SLUMP_SPEED if slump else 1.0)

    # ------------------------------------------------------------------ primitives
    def _work_t(self, d: int) -> int:
        """A random working-hours instant on day ``d`` (08:00–16:45 local)."""
        return int(self.cal.midnight[d] + self.rng.uniform(8 * HOUR, 16.75 * HOUR))

    def _snap_work(self, t: int) -> int:
        """``t`` if it is in working hours of a working day, else a morning time after it."""
        cal = self.cal
        d = cal.day_of(t)
        sod = t - int(cal.midnight[d])
        if cal.working[d] and 8 * HOUR <= sod < 17 * HOUR:
            return t
        if cal.working[d] and sod < 8 * HOUR:
            nd = d
        else:
            nd = cal.working_day(d + 1)
        return int(cal.midnight[nd] + self.rng.uniform(8 * HOUR, 9.5 * HOUR))

    def _night_fix(self, t: int) -> int:
        """Keep evening follow-ups (until 21:00) but move night/weekend ones to a morning."""
        cal = self.cal
        d = cal.day_of(t)
        sod = t - int(cal.midnight[d])
        if cal.working[d] and 7 * HOUR <= sod < 21 * HOUR:
            return t
        nd = d if (cal.working[d] and sod < 7 * HOUR) else cal.working_day(d + 1)
        return int(cal.midnight[nd] + self.rng.uniform(7.75 * HOUR, 8.75 * HOUR))

    def _after_work_days(self, t: int, k: int) -> int:
        d = self.cal.working_day(self.cal.day_of(t) + 1, k - 1)
        return self._work_t(d)

    def _buyer_t(self, t: int) -> int:
        """Move ``t`` to a plausible buyer hour on the same day."""
        d = self.cal.day_of(t)
        rng = self.rng
        sod = rng.uniform(8 * HOUR, 16 * HOUR) if rng.random() < 0.75 else rng.uniform(16 * HOUR, 23 * HOUR)
        return int(self.cal.midnight[d] + sod)

    def _draw(self, cdf: list[float]) -> int:
        """Index drawn from a cumulative distribution ending at 1."""
        return min(bisect_right(cdf, self.rng.random()), len(cdf) - 1)

    def _pick_content(self, phase: str, persona: int) -> int:
        return self._draw(self.content_cdf[(phase, persona)])

    def _new_contact(
        self, t: int, source: str, team: int, stage: str, owner: int = -1, persona: int | None = None
    ) -> int:
        rng = self.rng
        if persona is None:
            persona = self._draw(self.persona_cdf)
        first = CONTACT_FIRST[int(rng.integers(len(CONTACT_FIRST)))]
        last = CONTACT_LAST[int(rng.integers(len(CONTACT_LAST)))]
        seg = self.team_segment[team]
        company = (
            f"{COMPANY_PREFIX[int(rng.integers(len(COMPANY_PREFIX)))]} "
            f"{COMPANY_SUFFIX[int(rng.integers(len(COMPANY_SUFFIX)))]} "
            f"{'ASA' if seg == 'enterprise' and rng.random() < 0.5 else 'AS'}"
        )
        domain = slug(company.rsplit(" ", 1)[0]).replace("-", "") + ".no"
        base = f"{slug(first)}.{slug(last)}".replace("-", "")
        email, k = f"{base}@{domain}", 2
        while email in self.used_emails:
            email, k = f"{base}{k}@{domain}", k + 1
        self.used_emails.add(email)
        titles = PERSONAS[persona][2]
        title = titles[int(rng.integers(len(titles)))]
        c = _Contact(
            email, f"{first} {last}", company, title, persona, source, team, t, bool(rng.random() < 0.8)
        )
        c.versions.append((t, stage, owner))
        self.contacts.append(c)
        return len(self.contacts) - 1

    def _stage(self, c: int, t: int, stage: str, owner: int | None = None) -> None:
        con = self.contacts[c]
        con.versions.append((t, stage, con.owner if owner is None else owner))

    def _activity(
        self,
        t: int,
        rep: int,
        kind: str,
        contact: int = -1,
        deal: int = -1,
        content: int = -1,
        outcome: str | None = None,
        duration: int = 0,
    ) -> None:
        self.activities.append((t, rep, kind, contact, deal, content, outcome, duration))
        d = self.cal.day_of(t)
        self.load[rep, d] += 1

    def _call(self, t: int, rep: int, contact: int, deal: int = -1) -> bool:
        rng = self.rng
        d = self.cal.day_of(t)
        if rng.random() < self.eff_connect[rep, d]:
            self._activity(
                t, rep, "call", contact, deal, outcome="connected", duration=int(rng.uniform(90, 1500))
            )
            return True
        out = MISS_OUTCOMES[bisect_right(MISS_CDF, rng.random())]
        self._activity(t, rep, "call", contact, deal, outcome=out, duration=int(rng.uniform(0, 40)))
        return False

    def _touch(self, t: int, contact: int, content: int, channel: str, action: str | None = None) -> None:
        rng = self.rng
        kind = self.content[content][1]
        act = action or ("share" if rng.random() < 0.04 else ACTION_BY_KIND[kind])
        secs = (
            0
            if act in ("download", "share")
            else int(rng.gamma(2.0, 60.0 if kind in ("pricing_page", "product_page") else 150.0))
        )
        self.touches.append((t, contact, act, content, None, secs, channel))

    def _channel(self, source: str) -> str:
        opts, p = CHANNELS[source]
        return opts[min(bisect_right(CHANNEL_CDF[source], self.rng.random()), len(opts) - 1)]

    # ------------------------------------------------------------------ inbound marketing
    def _inbound(self) -> None:
        rng, cal = self.rng, self.cal
        days = np.arange(0, self.d_now + 1)
        weekday = np.array([cal.dates[d].weekday() for d in days])
        rows: list[tuple[int, str]] = []
        for s, (per_week, *_rest, weekend_w, _sub) in SOURCES.items():
            if per_week <= 0:
                continue
            w = np.where(weekday >= 5, weekend_w, np.where(cal.working[days], 1.0, 0.5))
            rate = per_week * self.scale / (5 + 2 * weekend_w) * w
            counts = rng.poisson(rate)
            for d in np.repeat(days, counts):
                rows.append((int(cal.midnight[d]) + 0, s))
        # times inside the day; sort by time for readable ids
        n = len(rows)
        sod = np.where(
            rng.random(n) < 0.8, rng.uniform(7 * HOUR, 17 * HOUR, n), rng.uniform(17 * HOUR, 23 * HOUR, n)
        ).astype(np.int64)
        t0s = np.array([r[0] for r in rows], dtype=np.int64) + sod
        order = np.argsort(t0s, kind="stable")
        team_w = np.array([len(tr) for tr in self.team_reps], dtype=float)
        team_cdf = np.cumsum(team_w / team_w.sum()).tolist()
        for i in order:
            self._inbound_contact(int(t0s[i]), rows[i][1], self._draw(team_cdf))

    def _inbound_contact(self, t0: int, source: str, team: int) -> None:
        rng = self.rng
        _pw, mql_rate, sql_rate, *_ = SOURCES[source]
        sub = SOURCES[source][6]
        stage0 = "subscriber" if rng.random() < sub else "lead"
        c = self._new_contact(t0, source, team, stage0)
        persona = self.contacts[c].persona
        pq = PERSONA_Q[self.persona_names[persona]]
        ch = self._channel(source)
        if rng.random() >= min(0.95, mql_rate * pq[1]):
            for _ in range(int(rng.poisson(1.0))):
                t = self._buyer_t(t0 + int(rng.exponential(10 * DAY)))
                if t <= t0:
                    continue
                if rng.random() < 0.2:
                    url = CONTENT_BASE_URL + EXTRA_URLS[int(rng.integers(len(EXTRA_URLS)))]
                    self.touches.append((t, c, "visit", -1, url, int(rng.gamma(2.0, 30.0)), ch))
                else:
                    self._touch(t, c, self._pick_content("awareness", persona), ch)
            return
        t_mql = t0 + int(rng.gamma(2.0, 4.0) * DAY)
        if t_mql > self.now_ts:
            # still nurturing: touches so far
            for _ in range(int(rng.poisson(1.5))):
                t = t0 + int(rng.uniform(60, max(120, self.now_ts - t0)))
                self._touch(t, c, self._pick_content("awareness", persona), ch)
            return
        n_pre = 1 + int(rng.poisson(2.5))
        for k in range(n_pre):
            t = t_mql - 30 if k == 0 else t_mql - int(rng.exponential(3 * DAY))
            t = max(t0 + 60, t)
            phase = "consideration" if (k == 0 or rng.random() < 0.4) else "awareness"
            self._touch(t, c, self._pick_content(phase, persona), ch)
        if stage0 == "subscriber":
            self._stage(c, t0 + int((t_mql - t0) * rng.uniform(0.2, 0.6)), "lead")
        self._stage(c, t_mql, "mql")
        if rng.random() >= min(0.95, sql_rate * pq[2]):
            if rng.random() < 0.35:
                self._stage(c, t_mql + int(rng.uniform(10, 45) * DAY), "disqualified")
            return
        cal = self.cal
        d = cal.working_day(cal.day_of(t_mql + int(rng.gamma(2.0, 2.5) * DAY)))
        t_sql = self._work_t(d)
        if t_sql <= t_mql:
            t_sql = self._work_t(cal.working_day(d + 1))
        for _ in range(1 + int(rng.poisson(1.5))):
            t = t_mql + int(rng.uniform(0.05, 0.95) * (t_sql - t_mql))
            if rng.random() < 0.3:
                self._touch(t, c, self.pricing[int(rng.integers(len(self.pricing)))], ch)
            else:
                self._touch(t, c, self._pick_content("late", persona), ch)
        d_sql = cal.day_of(t_sql)
        day = cal.dates[d_sql]
        cands = [r for r in self.team_reps[team] if self.rep_start_day[r] <= d_sql]
        if not cands:
            return
        # round-robin weighted by productivity: ramping reps get fewer leads
        w = np.cumsum([self.rep_truth[r].productivity(day) for r in cands]).tolist()
        rep = cands[min(bisect_right(w, rng.random() * w[-1]), len(cands) - 1)]
        self._stage(c, t_sql, "sql", rep)
        self._inbound_followup(rep, c, t_sql)

    def _first_followup_t(self, rep: int, t_sql: int) -> int:
        d = self.cal.day_of(t_sql)
        delay_h = self.eff_speed[rep, d] * math.exp(RESPONSE_SIGMA * self.rng.standard_normal())
        return self._night_fix(t_sql + int(delay_h * HOUR))

    def _inbound_followup(self, rep: int, c: int, t_sql: int) -> None:
        rng, cal = self.rng, self.cal
        tr = self.rep_truth[rep]
        t = self._first_followup_t(rep, t_sql)
        for _ in range(INBOUND_ATTEMPTS):
            if t > self.now_ts:
                return
            d = cal.day_of(t)
            sod = t - int(cal.midnight[d])
            warm = min(0.9, WARM_MEETING_MULT * self.eff_meeting[rep, d])
            if rng.random() < tr.call_share and 8 * HOUR <= sod < 17 * HOUR:
                booked = self._call(t, rep, c) and rng.random() < warm
            else:
                self._activity(t, rep, "email", c)
                booked = rng.random() < warm * EMAIL_BOOK_MULT
            if booked:
                self._meeting(rep, c, t)
                return
            t = self._after_work_days(t, int(rng.integers(1, 4)))
        if rng.random() < 0.5:
            self._stage(c, t + int(rng.uniform(2, 10) * DAY), "disqualified")

    # ------------------------------------------------------------------ meetings and deals
    def _meeting_t(self, t_book: int, min_days: int, max_days: int) -> int:
        cal, rng = self.cal, self.rng
        d = cal.working_day(cal.day_of(t_book) + 1, int(rng.integers(min_days, max_days)))
        hour = (9, 10, 11, 13, 14, 15)[int(rng.integers(6))]
        return int(cal.midnight[d]) + hour * HOUR + (1800 if rng.random() < 0.3 else 0)

    def _meeting(self, rep: int, c: int, t_book: int) -> None:
        rng = self.rng
        t_m = self._meeting_t(t_book, 0, 5)
        held = rng.random() < HELD_P
        if not held and rng.random() < REBOOK_P:
            self._activity(t_m, rep, "meeting", c, outcome="no_show")
            t_m = self._meeting_t(t_m, 1, 4)
            held = rng.random() < REBOOK_HELD_P
        dur = int(rng.choice([1800, 2700, 3600]))
        self._activity(
            t_m, rep, "meeting", c, outcome="held" if held else "no_show", duration=dur if held else 0
        )
        if not held:
            return
        con = self.contacts[c]
        p = (
            self.rep_truth[rep].opp_rate
            * self.sources_truth[con.source].opp_mult
            * self.personas_truth[self.persona_names[con.persona]].opp_mult
        )
        if rng.random() < min(0.95, p):
            self._deal(rep, c, t_m + dur + int(rng.uniform(10, 90) * 60))

    def _deal(self, rep: int, c: int, t0: int) -> None:
        rng, cal = self.rng, self.cal
        con = self.contacts[c]
        tr = self.rep_truth[rep]
        team = self.rep_team[rep]
        seg_mean, lo, hi, factor = SEGMENTS[self.team_segment[team]]
        persona_name = self.persona_names[con.persona]
        p_win = min(
            0.9,
            tr.win_rate
            * self.sources_truth[con.source].win_mult
            * self.personas_truth[persona_name].win_mult,
        )
        conv = np.array(BASE_STAGE_CONVERSION) ** (math.log(p_win) / LOG_BASE_PROD)
        u = rng.random(5)
        fails = np.flatnonzero(u >= conv)
        fail = int(fails[0]) if len(fails) else -1
        won = fail < 0
        last = 4 if won else fail
        durs = STAGE_DAYS * factor * rng.gamma(3.0, 1 / 3.0, 5)
        ts = [t0]
        for i in range(1, last + 1):
            d_next = cal.day_of(ts[-1] + int(durs[i - 1] * DAY)) + 1
            ts.append(self._work_t(cal.working_day(d_next)))
        stall_start = -1
        if won:
            t_close = self._work_t(cal.working_day(cal.day_of(ts[4] + int(durs[4] * DAY))))
            reason = None
        else:
            t_close = self._snap_work(ts[fail] + int(durs[fail] * rng.uniform(0.3, 1.0) * DAY))
            if rng.random() < STALL_P:
                stall_start = ts[fail] + int(durs[fail] * 0.3 * DAY)
                t_close = self._snap_work(stall_start + int(rng.uniform(40, 90) * DAY))
                reason = "no decision"
            else:
                reasons = EARLY_LOSS if fail <= 1 else LATE_LOSS
                cdf = np.cumsum([w for _, w in reasons]).tolist()
                reason = reasons[min(bisect_right(cdf, rng.random()), len(reasons) - 1)][0]
        if t_close <= ts[-1]:
            t_close = ts[-1] + int(rng.uniform(1, 4) * HOUR)
        amount_true = _round_amount(tr.deal_size * rng.lognormal(-(0.35**2) / 2, 0.35), lo, hi)
        amount0 = _round_amount(amount_true * rng.uniform(0.85, 1.25), lo, hi)
        planned = float(STAGE_DAYS.sum() * factor * rng.uniform(0.8, 1.1))
        exp_close = cal.dates[cal.day_of(t0 + int(planned * DAY))]
        product = PRODUCTS[
            min(
                len(PRODUCTS) - 1,
                int(rng.integers(2)) + (2 if self.team_segment[team] == "enterprise" else 0),
            )
        ]
        deal = _Deal(c, f"{con.company} – {product}", t0)
        self.deals.append(deal)
        di = len(self.deals) - 1
        deal.changes.append(
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
        )
        if con.stage not in ("opportunity", "customer"):
            self._stage(c, t0, "opportunity", rep)
        owner = rep
        active_end = t_close if stall_start < 0 else stall_start
        ch = "email"
        for i in range(last + 1):
            start = ts[i]
            end = ts[i + 1] if i < last else t_close
            end = min(end, active_end)
            if i > 0:
                upd: dict[str, Any] = {"stage": DEAL_STAGES[i]}
                if i == 1 or (i == 2 and rng.random() < 0.5):
                    upd["amount"] = amount_true
                if i >= 3 and rng.random() < CUT_P:
                    amount_true = _round_amount(amount_true * rng.uniform(0.7, 0.9), lo, hi)
                    upd["amount"] = amount_true
                if rng.random() < OWNER_CHANGE_P:
                    d = cal.day_of(start)
                    others = [r for r in self.team_reps[team] if r != owner and self.rep_start_day[r] <= d]
                    if others:
                        owner = others[int(rng.integers(len(others)))]
                        upd["owner"] = owner
                        self._stage(c, start, "opportunity", owner)
                deal.changes.append((start, upd))
            if start >= active_end or start > self.now_ts:
                break
            self._deal_stage_work(owner, c, di, i, start, end, won, fail == i, ch)
        # expected close pushes while the deal is open past its expected close
        t_exp = local_midnight(exp_close) + DAY
        while True:
            t_push = self._work_t(cal.working_day(cal.day_of(t_exp) + int(rng.integers(0, 4))))
            if t_push >= t_close - DAY or t_push > self.now_ts:
                break
            if stall_start >= 0 and t_push > stall_start and rng.random() > PUSH_P_STALLED:
                t_exp += 30 * DAY
                continue
            exp_close = exp_close + timedelta(days=int(rng.integers(14, 36)))
            deal.changes.append((t_push, {"expected_close": exp_close}))
            t_exp = local_midnight(exp_close) + DAY
        if won:
            deal.changes.append((t_close, {"stage": "won", "closed_at": t_close}))
            self._stage(c, t_close, "customer")
        else:
            deal.changes.append((t_close, {"stage": "lost", "closed_at": t_close, "lost_reason": reason}))

    def _deal_stage_work(
        self,
        rep: int,
        c: int,
        di: int,
        i: int,
        start: int,
        end: int,
        will_win: bool,
        loses_here: bool,
        ch: str,
    ) -> None:
        """Rep activities and buyer touches while a deal sits in stage ``i``."""
        rng = self.rng
        span = max(end - start, HOUR)
        persona = self.contacts[c].persona

        def when(lo: float = 0.05, hi: float = 0.95) -> int:
            t = self._snap_work(start + int(span * rng.uniform(lo, hi)))
            return t if t < end else start + int(rng.uniform(600, 3600))

        if i == 1:
            self._activity(
                when(0.0, 0.3), rep, "meeting", c, di, outcome="held", duration=int(rng.choice([2700, 3600]))
            )
        elif i == 2:
            self._activity(
                when(0.0, 0.3),
                rep,
                "demo",
                c,
                di,
                outcome="held",
                duration=int(rng.choice([2700, 3600, 5400])),
            )
        elif i == 3:
            self._activity(start - int(rng.uniform(5, 45) * 60), rep, "proposal", c, di)
        n_email = int(rng.integers(1, 3))
        n_call = int(rng.integers(1, 4)) if i == 4 else int(rng.random() < 0.6)
        for _ in range(n_email):
            self._activity(when(), rep, "email", c, di)
        for _ in range(n_call):
            self._call(when(), rep, c, di)
        if i >= 2 and rng.random() < 0.5:
            t = when()
            phase = "decision" if i >= 3 else "late"
            content = self._pick_content(phase, persona)
            self._activity(t, rep, "content_share", c, di, content=content)
            if rng.random() < 0.7:
                self._touch(t + int(rng.uniform(0.5, 48) * HOUR), c, content, "email")
        if rng.random() < 0.3:
            self._activity(when(), rep, "note", c, di)
        if i >= 1:
            lam = (1.3 if will_win else 0.6) * (0.5 if i == 1 else 1.0) * (0.5 if loses_here else 1.0)
            for _ in range(int(rng.poisson(lam))):
                t = self._buyer_t(start + int(span * rng.uniform(0.05, 0.95)))
                phase = "decision" if i >= 3 else "late"
                self._touch(t, c, self._pick_content(phase, persona), ch)
        if i >= 2:
            for _ in range(int(rng.poisson(0.8 if will_win else 0.25))):
                t = self._buyer_t(start + int(span * rng.uniform(0.05, 0.95)))
                self._touch(t, c, self.pricing[int(rng.integers(len(self.pricing)))], "web")

    # ------------------------------------------------------------------ outbound prospecting
    def _prospecting(self) -> None:
        for r in range(self.n_reps):
            self._prospect_rep(r)

    def _prospect_rep(self, r: int) -> None:
        rng, cal = self.rng, self.cal
        tr = self.rep_truth[r]
        team = self.rep_team[r]
        pool: list[list[int]] = []  # [contact, attempts]
        start_d = int(self.rep_start_day[r])
        cum_other = [0.78, 0.88]
        for d in range(start_d, self.d_now + 1):
            midnight = int(cal.midnight[d])
            if not cal.working[d]:
                if pool and rng.random() < 0.06:
                    c = pool[int(rng.integers(len(pool)))][0]
                    self._activity(midnight + int(rng.uniform(10 * HOUR, 22 * HOUR)), r, "email", c)
                continue
            n = int(rng.poisson(self.eff_apd[r, d])) - int(self.load[r, d])
            if n <= 0:
                continue
            times = np.sort(rng.uniform(8 * HOUR, 16.9 * HOUR, n)).astype(np.int64) + midnight
            u = rng.random((n, 3))
            for j in range(n):
                t = int(times[j])
                if not pool or u[j, 0] < NEW_PROSPECT_P:
                    c = self._new_contact(t - int(rng.uniform(60, 3600)), "outbound", team, "lead", r)
                    slot = [c, 0]
                    pool.append(slot)
                    k = len(pool) - 1
                else:
                    k = int(u[j, 1] * len(pool))
                    slot = pool[k]
                    c = slot[0]
                slot[1] += 1
                if slot[1] >= 6 or t - self.contacts[c].created > PROSPECT_MAX_AGE:
                    pool[k] = pool[-1]
                    pool.pop()
                    k = -1
                if u[j, 2] < tr.call_share:
                    booked = self._call(t, r, c) and rng.random() < self.eff_meeting[r, d]
                else:
                    kind = ("email", "content_share", "note")[bisect_right(cum_other, rng.random())]
                    if kind == "content_share":
                        content = self._pick_content("awareness", self.contacts[c].persona)
                        self._activity(t, r, kind, c, content=content)
                        if rng.random() < 0.3:
                            self._touch(t + int(rng.uniform(0.5, 72) * HOUR), c, content, "email")
                    else:
                        self._activity(t, r, kind, c)
                    booked = kind == "email" and rng.random() < (self.eff_meeting[r, d] * EMAIL_BOOK_MULT)
                if booked:
                    if k >= 0:
                        pool[k] = pool[-1]
                        pool.pop()
                    t_sql = t + int(rng.uniform(2, 10) * 60)
                    self._stage(c, t_sql, "sql", r)
                    self._activity(self._first_followup_t(r, t_sql), r, "email", c)
                    self._meeting(r, c, t)

    # ------------------------------------------------------------------ goals
    def _expected(self, r: int) -> tuple[float, float]:
        """Rough expected (meetings per week, won revenue per quarter) at full productivity."""
        tr = self.rep_truth[r]
        team = self.rep_team[r]
        fill = tr.activities_per_day * 0.85
        cold = fill * (
            tr.call_share * tr.connect_rate * tr.meeting_rate
            + (1 - tr.call_share) * 0.78 * tr.meeting_rate * EMAIL_BOOK_MULT
        )
        sql_week = sum(SOURCES[s][0] * SOURCES[s][1] * SOURCES[s][2] for s in SOURCES)
        sql_day = (
            sql_week
            * self.scale
            / 5
            * (len(self.team_reps[team]) / self.n_reps)
            / max(1, len(self.team_reps[team]))
        )
        warm = min(0.9, WARM_MEETING_MULT * tr.meeting_rate)
        p_att = tr.call_share * tr.connect_rate * warm + (1 - tr.call_share) * warm * EMAIL_BOOK_MULT
        inbound = sql_day * (1 - (1 - p_att) ** INBOUND_ATTEMPTS)
        booked = cold + inbound
        held = HELD_P + (1 - HELD_P) * REBOOK_P * REBOOK_HELD_P
        deals_q = booked * held * tr.opp_rate * 62
        # 0.7: calibrated against the simulation (deals slipping past the quarter, amount cuts,
        # the rep's share of committed work) so that a typical rep lands near 100 %.
        return booked * 5, 0.7 * deals_q * tr.win_rate * tr.deal_size

    def _goals(self) -> list[GoalSpec]:
        goals: list[GoalSpec] = []
        expected = [self._expected(r) for r in range(self.n_reps)]
        q_start = self.dhs_date
        quarters: list[tuple[date, date]] = []
        while q_start <= self.today:
            quarters.append((q_start, quarter_end(q_start)))
            q_start = quarter_end(q_start) + timedelta(days=1)
        team_quota = []
        team_meet = []
        for t in range(self.n_teams):
            rev = sorted(expected[r][1] for r in self.team_reps[t])
            meet = sorted(expected[r][0] for r in self.team_reps[t])
            team_quota.append(round(rev[len(rev) // 2] * 1.05 / 10_000) * 10_000)
            team_meet.append(max(1, round(meet[len(meet) // 2])))
        for qs, qe in quarters:
            org_total = 0
            for t in range(self.n_teams):
                team_total = 0
                for r in self.team_reps[t]:
                    tr = self.rep_truth[r]
                    if tr.start_date > qe:
                        continue
                    days = [qs + timedelta(days=i) for i in range((qe - qs).days + 1)]
                    wd = [d for d in days if d.weekday() < 5]
                    ramp = sum(tr.productivity(d) for d in wd) / len(wd)
                    target = int(round(team_quota[t] * ramp / 10_000) * 10_000) * 100
                    team_total += target
                    goals.append(GoalSpec("revenue_won", "rep", tr.email, qs, qe, target, "result", "sales"))
                goals.append(
                    GoalSpec("revenue_won", "team", self.team_names[t], qs, qe, team_total, "result", "sales")
                )
                org_total += team_total
            goals.append(GoalSpec("revenue_won", "org", "", qs, qe, org_total, "result", "sales"))
            sql_q = sum(SOURCES[s][0] * SOURCES[s][1] * SOURCES[s][2] for s in SOURCES) * 13
            goals.append(
                GoalSpec(
                    "sqls_created",
                    "org",
                    "",
                    qs,
                    qe,
                    int(round(sql_q * self.scale * 1.05)),
                    "result",
                    "marketing",
                )
            )
        week = self.hs_date - timedelta(days=self.hs_date.weekday())
        while week <= self.today:
            for r in range(self.n_reps):
                tr = self.rep_truth[r]
                if tr.start_date > week + timedelta(days=6):
                    continue
                target = max(
                    1, round(team_meet[self.rep_team[r]] * tr.productivity(week + timedelta(days=4)))
                )
                goals.append(
                    GoalSpec(
                        "meetings_booked",
                        "rep",
                        tr.email,
                        week,
                        week + timedelta(days=6),
                        int(target),
                        "kpi",
                        "sales",
                    )
                )
            week += timedelta(days=7)
        return goals

    # ------------------------------------------------------------------ run and emit
    def run(self) -> DemoOrg:
        self._inbound()
        self._prospecting()
        if self.dhs_ts < self.hs_ts:
            from .history import add_deal_history

            add_deal_history(self, self.dhs_date)
        events = _Emitter(self).emit()
        truth = DemoTruth(
            reps={tr.email: tr for tr in self.rep_truth},
            sources=self.sources_truth,
            personas=self.personas_truth,
            seed=self.seed,
            history_start=datetime.fromtimestamp(self.hs_ts, UTC),
            deal_history_start=datetime.fromtimestamp(self.dhs_ts, UTC),
            now=self.now,
            expected_revenue={tr.email: self._expected(r)[1] for r, tr in enumerate(self.rep_truth)},
        )
        personas = [PersonaSpec(p[0], p[1]) for p in PERSONAS]
        history_ids = frozenset(f"deal-{i + 1:05d}" for i, d in enumerate(self.deals) if d.contact < 0)
        return DemoOrg(self.teams, self.people, personas, self._goals(), events, truth, history_ids)


def _alive_at(states: list[tuple[int, dict[str, Any]]], t: int) -> bool:
    """Whether a deal has a state at or after ``t`` or is still open just before it."""
    pre = [s for s in states if s[0] < t]
    return any(s[0] >= t for s in states) or bool(pre and pre[-1][1]["stage"] not in ("won", "lost"))


def _log_delay(n: int) -> int:
    """Seconds between activity ``n`` and when its rep logged it: most within half an hour, one in
    five the same day, one in ten days later. A hash of ``n``, not the simulation's random stream,
    so every other number of the demo org stays as it was."""
    u = ((n + 1) * 2654435761 % 2**32) / 2**32
    if u < 0.7:
        return int(u / 0.7 * 1800)
    if u < 0.9:
        return 3600 + int((u - 0.7) / 0.2 * 7 * 3600)
    return 86400 + int((u - 0.9) / 0.1 * 2 * 86400)


def _iso(ts: list[int] | np.ndarray) -> list[str]:
    """ISO 8601 UTC strings (``...Z``) for Unix seconds, vectorised."""
    arr = np.asarray(ts, dtype=np.int64).astype("datetime64[s]")
    return np.datetime_as_string(arr, unit="s", timezone="UTC").tolist()


class _Emitter:
    """Turns the simulation stores into time-ordered ingest records within the history."""

    RANK = {"rep": 0, "content": 1, "contact": 2, "deal": 3, "activity": 4, "touch": 5}

    def __init__(self, sim: _Sim):
        self.sim = sim
        self.records: list[dict[str, Any]] = []
        self.t: list[int] = []
        self.rank: list[int] = []

    def _add(self, rec: dict[str, Any], t: int) -> None:
        self.records.append(rec)
        self.t.append(t)
        self.rank.append(self.RANK[rec["type"]])

    def emit(self) -> list[dict[str, Any]]:
        sim = self.sim
        hs, now = sim.hs_ts, sim.now_ts
        dhs = sim.dhs_ts
        for p in sim.people:
            self._add(
                {
                    "type": "rep",
                    "source": SOURCE,
                    "id": "rep-" + p.email.split("@")[0],
                    "email": p.email,
                    "name": p.name,
                    "team": p.team,
                    "role": p.role,
                    "active": True,
                    "start_date": p.start_date.isoformat(),
                    "tv_opt_out": p.tv_opt_out,
                },
                dhs,
            )
        for i, (title, kind, phase, personas) in enumerate(sim.content):
            path = "pricing" if i == sim.pricing[0] else slug(title)
            self._add(
                {
                    "type": "content",
                    "source": SOURCE,
                    "id": sim.content_ids[i],
                    "title": title,
                    "kind": kind,
                    "buying_phase": phase,
                    "personas": list(personas),
                    "url": f"{CONTENT_BASE_URL}/{path}",
                },
                hs,
            )
        acts = [a for a in sim.activities if hs <= a[0] <= now]
        touches = [x for x in sim.touches if hs <= x[0] <= now]
        need_c = np.zeros(len(sim.contacts), dtype=bool)
        need_d = np.zeros(len(sim.deals), dtype=bool)
        for a in acts:
            if a[3] >= 0:
                need_c[a[3]] = True
            if a[4] >= 0:
                need_d[a[4]] = True
        for x in touches:
            need_c[x[1]] = True
        deal_states = [self._fold(d) for d in sim.deals]
        for i, states in enumerate(deal_states):
            pre = [s for s in states if s[0] < dhs]
            if any(dhs <= s[0] <= now for s in states) or (
                pre and pre[-1][1]["stage"] not in ("won", "lost")
            ):
                need_d[i] = True
            contact = sim.deals[i].contact
            if need_d[i] and contact >= 0 and (need_d[i] if dhs == hs else _alive_at(states, hs)):
                need_c[contact] = True
        self._contacts(need_c)
        self._deals(need_d, deal_states)
        self._activities(acts)
        self._touches(touches)
        order = np.lexsort((np.arange(len(self.t)), np.array(self.rank), np.array(self.t)))
        return [self.records[i] for i in order]

    def _contacts(self, need: np.ndarray) -> None:
        sim = self.sim
        hs, now = sim.hs_ts, sim.now_ts
        rows: list[tuple[int, int, str, int]] = []  # (t, contact, stage, owner)
        for ci in np.flatnonzero(need):
            con = sim.contacts[ci]
            vs = sorted(con.versions, key=lambda v: v[0])
            pre = [v for v in vs if v[0] < hs]
            if pre:
                rows.append((hs, int(ci), pre[-1][1], pre[-1][2]))
            rows.extend((v[0], int(ci), v[1], v[2]) for v in vs if hs <= v[0] <= now)
        created = _iso([sim.contacts[r[1]].created for r in rows])
        ats = _iso([r[0] for r in rows])
        for (t, ci, stage, owner), cr, at in zip(rows, created, ats, strict=True):
            con = sim.contacts[ci]
            rec = {
                "type": "contact",
                "source": SOURCE,
                "id": f"contact-{ci + 1:06d}",
                "email": con.email,
                "name": con.name,
                "company": con.company,
                "title": con.title,
                "persona": sim.persona_names[con.persona],
                "lifecycle_stage": stage,
                "lead_source": con.source,
            }
            if owner >= 0:
                rec["owner"] = sim.rep_email[owner]
            rec.update(created_at=cr, consent=con.consent, at=at)
            self._add(rec, t)

    @staticmethod
    def _fold(deal: _Deal) -> list[tuple[int, dict[str, Any]]]:
        """Full deal states after each (merged) change, in time order."""
        state: dict[str, Any] = {}
        out: list[tuple[int, dict[str, Any]]] = []
        for t, upd in sorted(deal.changes, key=lambda c: c[0]):
            state = {**state, **upd}
            if out and out[-1][0] == t:
                out[-1] = (t, state)
            else:
                out.append((t, state))
        return out

    def _deals(self, need: np.ndarray, states: list[list[tuple[int, dict[str, Any]]]]) -> None:
        sim = self.sim
        hs, now = sim.hs_ts, sim.now_ts
        dhs = sim.dhs_ts
        rows: list[tuple[int, int, dict[str, Any]]] = []
        for di in np.flatnonzero(need):
            st = states[di]
            pre = [s for s in st if s[0] < dhs]
            if pre:
                rows.append((dhs, int(di), pre[-1][1]))
            rows.extend((t, int(di), s) for t, s in st if dhs <= t <= now)
            if dhs < hs and sim.deals[di].contact >= 0:
                before = [s for s in st if s[0] < hs]
                if before and before[-1][0] >= dhs and before[-1][1]["stage"] not in ("won", "lost"):
                    if not any(t == hs for t, _ in st):
                        rows.append((hs, int(di), before[-1][1]))  # links the contact, now there
        created = _iso([sim.deals[r[1]].created for r in rows])
        ats = _iso([r[0] for r in rows])
        closed = _iso([r[2]["closed_at"] or 0 for r in rows])
        for (t, di, s), cr, at, cl in zip(rows, created, ats, closed, strict=True):
            deal = sim.deals[di]
            con = sim.contacts[deal.contact] if deal.contact >= 0 else None
            rec = {
                "type": "deal",
                "source": SOURCE,
                "id": f"deal-{di + 1:05d}",
                "name": deal.name,
                # before the activity history starts, contacts are not there yet
                "contact": f"contact-{deal.contact + 1:06d}" if con is not None and t >= hs else None,
                "account": con.company if con is not None else deal.account,
                "owner": sim.rep_email[s["owner"]],
                "lead_source": con.source if con is not None else deal.source,
                "amount": int(s["amount"]),
                "currency": "NOK",
                "stage": s["stage"],
                "created_at": cr,
                "expected_close": s["expected_close"].isoformat(),
            }
            if s["stage"] in ("won", "lost"):
                rec["closed_at"] = cl
            if s["stage"] == "lost":
                rec["lost_reason"] = s["lost_reason"]
            if rec["contact"] is None:
                del rec["contact"]
            rec["at"] = at
            self._add(rec, t)

    def _activities(self, acts: list[tuple[int, int, str, int, int, int, str | None, int]]) -> None:
        sim = self.sim
        acts.sort(key=lambda a: a[0])
        ats = _iso([a[0] for a in acts])
        logged = _iso([a[0] + _log_delay(n) for n, a in enumerate(acts)])
        for n, (a, at) in enumerate(zip(acts, ats, strict=True)):
            t, rep, kind, c, d, content, outcome, dur = a
            rec: dict[str, Any] = {
                "type": "activity",
                "source": SOURCE,
                "id": f"act-{n + 1:07d}",
                "rep": sim.rep_email[rep],
                "kind": kind,
                "at": at,
                "logged_at": logged[n],
            }
            if c >= 0:
                rec["contact"] = f"contact-{c + 1:06d}"
            if d >= 0:
                rec["deal"] = f"deal-{d + 1:05d}"
            if content >= 0:
                rec["content"] = sim.content_ids[content]
            if outcome is not None:
                rec["outcome"] = outcome
            rec["duration_s"] = int(dur)
            self._add(rec, t)

    def _touches(self, touches: list[tuple[int, int, str, int, str | None, int, str]]) -> None:
        sim = self.sim
        touches.sort(key=lambda x: x[0])
        ats = _iso([x[0] for x in touches])
        for n, (x, at) in enumerate(zip(touches, ats, strict=True)):
            t, c, action, content, url, secs, channel = x
            rec: dict[str, Any] = {
                "type": "touch",
                "source": SOURCE,
                "id": f"touch-{n + 1:07d}",
                "contact": f"contact-{c + 1:06d}",
                "action": action,
                "at": at,
            }
            if content >= 0:
                rec["content"] = sim.content_ids[content]
            else:
                rec["url"] = url
            rec.update(seconds=int(secs), channel=channel)
            self._add(rec, t)


def generate_demo_org(
    seed: int = 7,
    reps: int = 24,
    quarters: int = 2,
    teams: int = 3,
    now: datetime | None = None,
    *,
    uniform_truth: bool = False,
    deal_quarters: int | None = None,
) -> DemoOrg:
    """Generate a deterministic demo sales org with its hidden truth.

    Parameters
    ----------
    seed : int
        Seed of the only random generator used (``numpy.random.default_rng``).
    reps : int
        Number of reps (managers come on top, one per team).
    quarters : int
        Full calendar quarters of history before the current one.
    teams : int
        Number of teams (1–6).
    now : datetime, optional
        Timezone-aware end of the history; defaults to the current time.
    uniform_truth : bool
        Give every rep the same hidden parameters (a null org for testing that statistics do
        not find differences that are not there): no archetypes, every rep is a ``steady``
        copy of the first rep's parameters (start date included), only the email differs.
        Lead sources, personas, teams and the random stream are unchanged; the deal mix of
        each rep is still random. Default ``False`` (output unchanged).
    deal_quarters : int, optional
        Full quarters of *deal* history before the current one (at least ``quarters``): the
        quarters before the activity history carry deals with their stage, amount, expected
        close and owner changes but no contacts, activities or touches (see ``history.py`` for
        the truths planted in them). Default: ``quarters`` (output unchanged).

    Returns
    -------
    DemoOrg
        Same ``seed``, ``now`` and ``uniform_truth`` give identical output.

    Examples
    --------
    >>> from datetime import UTC, datetime
    >>> org = generate_demo_org(seed=1, reps=4, quarters=0, teams=2,
    ...                         now=datetime(2026, 5, 20, tzinfo=UTC), uniform_truth=True)
    >>> len({(t.win_rate, t.connect_rate, t.archetype) for t in org.truth.reps.values()})
    1
    """
    if now is None:
        now = datetime.now(UTC)
    # Hundreds of thousands of small tuples and dicts, none cyclic: the cyclic garbage
    # collector would only rescan them over and over.
    enabled = gc.isenabled()
    gc.disable()
    try:
        return _Sim(seed, reps, quarters, teams, now, uniform_truth, deal_quarters).run()
    finally:
        if enabled:
            gc.enable()
