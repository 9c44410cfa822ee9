"""Live feed for the real-time simulator: new ingest records as time passes (pure, no DB)."""

from __future__ import annotations

import math
import uuid
from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np

from .calendar import OSLO
from .model import DEAL_STAGES, DemoTruth
from .names import COMPANY_PREFIX, COMPANY_SUFFIX, CONTACT_FIRST, CONTACT_LAST, PERSONAS, slug

if TYPE_CHECKING:
    from .model import DemoOrg

SOURCE = "demo"
#: Mix of record kinds in the background stream.
KIND_WEIGHTS = (("activity", 0.55), ("touch", 0.25), ("contact", 0.08), ("deal", 0.12))
#: Preference of late stages when picking the next won deal.
WON_STAGE_WEIGHT = {"qualification": 0.3, "discovery": 0.6, "demo": 1.5, "proposal": 3.0, "negotiation": 5.0}
NEXT_LIFECYCLE = {"subscriber": "lead", "lead": "mql", "mql": "sql"}
DEFAULT_RATES = {"activities_per_day": 18.0, "call_share": 0.55, "connect_rate": 0.2}
BURST_SECONDS = 60.0
BURST_MULT = (3.0, 6.0)


@dataclass
class FeedSnapshot:
    """What the live feed needs to know about the current database.

    Attributes
    ----------
    reps : list[tuple[str, str, str]]
        ``(email, team name, role)``.
    open_deals : list[dict]
        Keys ``id, owner, stage, amount, currency, contact, name`` (optionally ``account,
        lead_source, expected_close``).
    contacts : list[dict]
        Keys ``id, owner, lifecycle_stage`` (optionally ``email, name, company, title, persona,
        lead_source``); ``owner`` may be None.
    content : list[str]
        Content ids.
    """

    reps: list[tuple[str, str, str]]
    open_deals: list[dict[str, Any]] = field(default_factory=list)
    contacts: list[dict[str, Any]] = field(default_factory=list)
    content: list[str] = field(default_factory=list)

    @classmethod
    def from_demo_org(cls, org: DemoOrg) -> FeedSnapshot:
        """The snapshot at the end of the generated history (latest version of each record)."""
        deals: dict[str, dict[str, Any]] = {}
        contacts: dict[str, dict[str, Any]] = {}
        content: list[str] = []
        for e in org.events:
            if e["type"] == "deal":
                deals[e["id"]] = e
            elif e["type"] == "contact":
                contacts[e["id"]] = e
            elif e["type"] == "content":
                content.append(e["id"])
        deal_keys = (
            "id",
            "owner",
            "stage",
            "amount",
            "currency",
            "contact",
            "name",
            "account",
            "lead_source",
            "expected_close",
        )
        contact_keys = (
            "id",
            "owner",
            "lifecycle_stage",
            "email",
            "name",
            "company",
            "title",
            "persona",
            "lead_source",
        )
        return cls(
            reps=[(p.email, p.team, p.role) for p in org.people],
            open_deals=[
                {k: d.get(k) for k in deal_keys} for d in deals.values() if d["stage"] not in ("won", "lost")
            ],
            contacts=[{k: c.get(k) for k in contact_keys} for c in contacts.values()],
            content=content,
        )


class LiveFeed:
    """Generates ingest records for elapsed wall-clock time, with bursts and regular wins.

    Parameters
    ----------
    truth : DemoTruth or None
        Rep parameters (effective on the tick's date); reps not in it use typical defaults.
    snapshot : FeedSnapshot
        Current state; the feed keeps its own updated copy (a deal is won only once).
    seed : int
        Seed of the feed's random generator.
    events_per_minute_per_team : float
        Mean background records per minute per team, bursts included (won deals come on top).
    won_every_minutes : float
        Mean minutes between won deals, org-wide (a Poisson process).
    burst_every_minutes : float or None
        Mean minutes between bursts (one minute at 3–6x the base rate); None disables bursts.
    """

    def __init__(
        self,
        truth: DemoTruth | None,
        snapshot: FeedSnapshot,
        seed: int,
        events_per_minute_per_team: float = 4.0,
        won_every_minutes: float = 3.0,
        burst_every_minutes: float | None = 8.0,
    ):
        self.truth = truth
        self.rng = np.random.default_rng(seed)
        self.snapshot = FeedSnapshot(
            reps=list(snapshot.reps),
            open_deals=[dict(d) for d in snapshot.open_deals],
            contacts=[dict(c) for c in snapshot.contacts],
            content=list(snapshot.content),
        )
        reps = [r for r in self.snapshot.reps if r[2] == "rep"] or list(self.snapshot.reps)
        if not reps:
            raise ValueError("the snapshot has no reps")
        self.reps = reps
        n_teams = len({r[1] for r in reps})
        self.burst_gap = None if burst_every_minutes is None else burst_every_minutes * 60.0
        mean_mult = sum(BURST_MULT) / 2
        factor = 1.0 if self.burst_gap is None else 1.0 + BURST_SECONDS / self.burst_gap * (mean_mult - 1.0)
        self.base_rate = events_per_minute_per_team * n_teams / 60.0 / factor
        self.won_rate = 1.0 / (won_every_minutes * 60.0)
        self.burst: tuple[float, float, float] | None = None  # (start, end, multiplier)
        self.won_ids: set[str] = set()
        self._kind_cdf = np.cumsum([w for _, w in KIND_WEIGHTS]).tolist()
        self._by_owner: dict[str, list[dict[str, Any]]] = {}
        for c in self.snapshot.contacts:
            if c.get("owner"):
                self._by_owner.setdefault(c["owner"], []).append(c)

    def _set_owner(self, c: dict[str, Any], owner: str) -> None:
        if c.get("owner") == owner:
            return
        if c.get("owner") in self._by_owner:
            self._by_owner[c["owner"]].remove(c)
        c["owner"] = owner
        self._by_owner.setdefault(owner, []).append(c)

    # ------------------------------------------------------------------ helpers
    def _id(self) -> str:
        return f"live-{uuid.UUID(bytes=self.rng.bytes(16), version=4)}"

    def _rates(self, email: str, now: datetime) -> dict[str, float]:
        tr = self.truth.reps.get(email) if self.truth else None
        if tr is None:
            return DEFAULT_RATES
        eff = tr.effective(now.astimezone(OSLO).date())
        return {
            "activities_per_day": eff.activities_per_day,
            "call_share": tr.call_share,
            "connect_rate": eff.connect_rate,
        }

    def _pick(self, items: list[Any]) -> Any:
        return items[int(self.rng.integers(len(items)))]

    def _base(self, kind: str, t: float) -> dict[str, Any]:
        at = datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds")
        return {"type": kind, "source": SOURCE, "id": self._id(), "at": at}

    # ------------------------------------------------------------------ tick
    def tick(self, now: datetime, seconds: float) -> list[dict[str, Any]]:
        """Records for the ``seconds`` ending at ``now`` (timestamps in that window), by time.

        Parameters
        ----------
        now : datetime
            Timezone-aware end of the window.
        seconds : float
            Length of the window.

        Returns
        -------
        list[dict]
            Ingest records (source ``"demo"``, ids ``live-<uuid>``).
        """
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        if seconds <= 0:
            return []
        rng = self.rng
        end = now.timestamp()
        start = end - seconds
        if self.burst_gap is not None and (self.burst is None or self.burst[1] < start):
            if rng.random() < 1.0 - math.exp(-seconds / self.burst_gap):
                b0 = start + rng.uniform(0, seconds)
                self.burst = (b0, b0 + BURST_SECONDS, float(rng.uniform(*BURST_MULT)))
        times = list(start + (1.0 - rng.random(rng.poisson(self.base_rate * seconds))) * seconds)
        if self.burst is not None:
            b0, b1 = max(self.burst[0], start), min(self.burst[1], end)
            if b1 > b0:
                extra = rng.poisson(self.base_rate * (self.burst[2] - 1.0) * (b1 - b0))
                times += list(b0 + (1.0 - rng.random(extra)) * (b1 - b0))
        n_won = rng.poisson(self.won_rate * seconds)
        won_times = sorted(start + (1.0 - rng.random(n_won)) * seconds)
        plan = [(t, "bg") for t in times] + [(t, "won") for t in won_times]
        plan.sort(key=lambda p: p[0])
        out: list[dict[str, Any]] = []
        for t, what in plan:
            rec = self._won(t) if what == "won" else self._background(t, now)
            if rec is not None:
                out.append(rec)
        return out

    def _background(self, t: float, now: datetime) -> dict[str, Any] | None:
        kind = KIND_WEIGHTS[bisect_right(self._kind_cdf, self.rng.random() * self._kind_cdf[-1])][0]
        if kind == "touch" and self.snapshot.contacts and self.snapshot.content:
            return self._touch(t)
        if kind == "contact":
            return self._contact(t)
        if kind == "deal":
            rec = self._deal(t)
            if rec is not None:
                return rec
        return self._activity(t, now)

    def _activity(self, t: float, now: datetime) -> dict[str, Any]:
        rng = self.rng
        w = np.array([self._rates(r[0], now)["activities_per_day"] for r in self.reps]) + 0.5
        email = self.reps[int(np.searchsorted(np.cumsum(w) / w.sum(), rng.random()))][0]
        rates = self._rates(email, now)
        rec = self._base("activity", t)
        rec["rep"] = email
        mine = self._by_owner.get(email, [])
        deals = [d for d in self.snapshot.open_deals if d.get("owner") == email]
        if rng.random() < rates["call_share"]:
            rec["kind"] = "call"
            connected = rng.random() < rates["connect_rate"]
            rec["outcome"] = (
                "connected" if connected else self._pick(["no_answer", "no_answer", "voicemail", "busy"])
            )
            rec["duration_s"] = int(rng.uniform(90, 1200) if connected else rng.uniform(0, 40))
        else:
            rec["kind"] = self._pick(["email"] * 6 + ["meeting", "content_share", "note", "demo", "proposal"])
            rec["duration_s"] = 3600 if rec["kind"] in ("meeting", "demo") else 0
            if rec["kind"] in ("meeting", "demo"):
                rec["outcome"] = "held"
            if rec["kind"] == "content_share" and self.snapshot.content:
                rec["content"] = self._pick(self.snapshot.content)
        if deals and (rec["kind"] in ("demo", "proposal") or rng.random() < 0.4):
            d = self._pick(deals)
            rec["deal"] = d["id"]
            if d.get("contact"):
                rec["contact"] = d["contact"]
        elif mine:
            rec["contact"] = self._pick(mine)["id"]
        elif rec["kind"] in ("demo", "proposal", "content_share"):
            rec["kind"] = "email"
            rec.pop("content", None)
            rec.pop("outcome", None)
        return rec

    def _touch(self, t: float) -> dict[str, Any]:
        rng = self.rng
        rec = self._base("touch", t)
        deals = self.snapshot.open_deals
        if deals and rng.random() < 0.5 and any(d.get("contact") for d in deals):
            rec["contact"] = self._pick([d for d in deals if d.get("contact")])["contact"]
        else:
            rec["contact"] = self._pick(self.snapshot.contacts)["id"]
        rec["content"] = self._pick(self.snapshot.content)
        rec["action"] = self._pick(["view"] * 6 + ["download", "download", "visit", "share"])
        rec["seconds"] = 0 if rec["action"] in ("download", "share") else int(rng.gamma(2, 90))
        rec["channel"] = self._pick(["web", "web", "email", "social", "direct"])
        return rec

    def _contact(self, t: float) -> dict[str, Any]:
        rng = self.rng
        movable = [c for c in self.snapshot.contacts if c.get("lifecycle_stage") in NEXT_LIFECYCLE]
        if movable and rng.random() < 0.5:
            c = self._pick(movable)
            c["lifecycle_stage"] = NEXT_LIFECYCLE[c["lifecycle_stage"]]
            if c["lifecycle_stage"] == "sql" and not c.get("owner"):
                self._set_owner(c, self._pick(self.reps)[0])
            rec = self._base("contact", t)
            rec["id"] = c["id"]
            rec.update({k: v for k, v in c.items() if v is not None and k != "id"})
            return rec
        first, last = self._pick(CONTACT_FIRST), self._pick(CONTACT_LAST)
        company = f"{self._pick(COMPANY_PREFIX)} {self._pick(COMPANY_SUFFIX)} AS"
        persona = self._pick(PERSONAS)
        rec = self._base("contact", t)
        domain = slug(company.rsplit(" ", 1)[0]).replace("-", "") + ".no"
        c = {
            "id": rec["id"],
            "owner": None,
            "lifecycle_stage": "lead",
            "email": f"{slug(first)}.{slug(last)}.{rec['id'][5:13]}@{domain}".replace("-", ""),
            "name": f"{first} {last}",
            "company": company,
            "title": persona[2][0],
            "persona": persona[0],
            "lead_source": self._pick(["web", "web", "paid", "event", "referral", "partner"]),
        }
        self.snapshot.contacts.append(c)
        rec.update({k: v for k, v in c.items() if v is not None and k != "id"})
        rec["consent"] = True
        return rec

    def _deal_record(self, d: dict[str, Any], t: float) -> dict[str, Any]:
        rec = self._base("deal", t)
        rec["id"] = d["id"]
        for k in (
            "name",
            "contact",
            "account",
            "owner",
            "lead_source",
            "amount",
            "currency",
            "stage",
            "expected_close",
        ):
            if d.get(k) is not None:
                rec[k] = d[k]
        rec.setdefault("currency", "NOK")
        return rec

    def _deal(self, t: float) -> dict[str, Any] | None:
        rng = self.rng
        deals = self.snapshot.open_deals
        u = rng.random()
        if u < 0.25 or not deals:
            cands = [c for c in self.snapshot.contacts if c.get("lifecycle_stage") in ("sql", "opportunity")]
            if not cands:
                return None
            c = self._pick(cands)
            owner = c.get("owner") or self._pick(self.reps)[0]
            company = c.get("company") or "Prospect AS"
            d = {
                "id": self._id(),
                "owner": owner,
                "stage": "qualification",
                "amount": int(round(150_000 * rng.lognormal(0, 0.4) / 5000) * 5000),
                "currency": "NOK",
                "contact": c["id"],
                "name": f"{company} – Nordlys Insight",
                "account": company,
                "lead_source": c.get("lead_source"),
                "expected_close": (
                    datetime.fromtimestamp(t, UTC).date() + timedelta(days=int(rng.integers(30, 90)))
                ).isoformat(),
            }
            c["lifecycle_stage"] = "opportunity"
            self._set_owner(c, owner)
            deals.append(d)
            rec = self._deal_record(d, t)
            rec["created_at"] = rec["at"]
            return rec
        d = self._pick(deals)
        if u < 0.75 and d.get("stage") in DEAL_STAGES[:-1]:
            d["stage"] = DEAL_STAGES[DEAL_STAGES.index(d["stage"]) + 1]
        elif u < 0.9 or not d.get("expected_close"):
            d["amount"] = int(round(float(d["amount"]) * rng.uniform(0.75, 0.95) / 5000) * 5000)
        else:
            new = datetime.fromisoformat(str(d["expected_close"])).date() + timedelta(
                days=int(rng.integers(14, 35))
            )
            d["expected_close"] = new.isoformat()
        return self._deal_record(d, t)

    def _won(self, t: float) -> dict[str, Any] | None:
        deals = self.snapshot.open_deals
        if not deals:
            return None
        w = np.array([WON_STAGE_WEIGHT.get(str(d.get("stage")), 1.0) for d in deals])
        i = int(np.searchsorted(np.cumsum(w) / w.sum(), self.rng.random()))
        d = deals.pop(min(i, len(deals) - 1))
        self.won_ids.add(d["id"])
        d["stage"] = "won"
        rec = self._deal_record(d, t)
        rec["closed_at"] = rec["at"]
        for c in self.snapshot.contacts:
            if c["id"] == d.get("contact"):
                c["lifecycle_stage"] = "customer"
        return rec
