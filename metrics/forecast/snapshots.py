"""Pipeline snapshots: every deal open at the end of a past day, as it stood then.

:func:`pipeline_snapshots` rebuilds, from the stored history (``deal_stages`` for the stage,
``deal_changes`` for amount, expected close and owner, ``activities`` for activity and contacts),
the open pipeline at the end of each requested org-local calendar date. It is the table every
forecast, back-test and deal-warning lift is built on (research, forecasting.md §1.2, §8).

"As of the end of day *d*" means: every event with ``at`` strictly before the next local
midnight (``calendar.midnight(d + 1 day)``, the *cutoff*) has happened, none after it has.

Columns of the result (one row per date and deal open at its cutoff)
--------------------------------------------------------------------
``snapshot_date``     the date (naive ``datetime64[us]`` at midnight, like frame dates)
``deal_id``           int64
``owner_rep_id``      owner at the cutoff (``deal_changes`` field ``owner``; ``Int64``, missing
                      when the owner then is not a known rep)
``stage``             stage at the cutoff: ``to_stage`` of the last ``deal_stages`` move before
                      it; before the first move, that move's ``from_stage``; a deal with no moves
                      has its current stage (missing if that is now ``won``/``lost``)
``amount``            amount then (``deal_changes`` field ``amount``; int64 minor units)
``expected_close``    expected close date then (field ``expected_close``; naive date, NaT if none)
``created_at``        the deal's creation instant (UTC)
``days_in_stage``     whole days from entering ``stage`` (last move, else creation) to the cutoff
``times_pushed``      how often ``expected_close`` was moved later before the cutoff
``last_activity_at``  the last activity on the deal before the cutoff (NaT if none)
``engaged_contacts``  distinct contacts with an activity on the deal before the cutoff
``outcome``           label, as known now: the deal's current ``outcome`` (won / lost / open)
``closed_at``         label, as known now: the deal's current ``closed_at`` (NaT while open)
``final_amount``      label, as known now: the deal's current ``amount``

A deal is open at a cutoff when it was created before it, is not closed before it
(``deals.closed_at``; a closed deal with no ``closed_at`` is never open), and its last stage move
before the cutoff is not to ``won``/``lost``. The label columns look into the future on purpose;
a back-test must only compare them with what was knowable at the snapshot (see
:mod:`metrics.forecast.backtest`).

Owner values in ``deal_changes`` are what the ingest stores: the rep's e-mail (pass ``reps`` to
resolve it) or a rep id written as digits. When the owner at a cutoff cannot be resolved the
column is missing for that row rather than guessed.

Everything is vectorised: the events of each kind are sorted once by (deal, time) and every
(date, deal) pair finds its last earlier event by one binary search.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from metrics.frames import DEAL_OUTCOMES, validate
from metrics.periods import OrgCalendar

__all__ = ["SNAPSHOT_COLUMNS", "pipeline_snapshots", "snapshot_cutoffs"]

#: The columns of :func:`pipeline_snapshots`, in order.
SNAPSHOT_COLUMNS: tuple[str, ...] = (
    "snapshot_date",
    "deal_id",
    "owner_rep_id",
    "stage",
    "amount",
    "expected_close",
    "created_at",
    "days_in_stage",
    "times_pushed",
    "last_activity_at",
    "engaged_contacts",
    "outcome",
    "closed_at",
    "final_amount",
)

_CLOSED = ("won", "lost")
_SHIFT = np.int64(1) << np.int64(33)  # seconds since _BASE fit in 33 bits for ~270 years
_BASE = np.datetime64("1900-01-01T00:00:00", "s")
_DAY_S = 86_400


def _dates(dates: Iterable[object]) -> list[_dt.date]:
    out = []
    for d in dates:
        if isinstance(d, _dt.datetime) or isinstance(d, pd.Timestamp):
            if getattr(d, "tzinfo", None) is not None:
                raise ValueError(f"snapshot dates are calendar dates; got an instant {d!r}")
            d = pd.Timestamp(d)
            if d != d.normalize():
                raise ValueError(f"snapshot dates are calendar dates; got a time of day {d!r}")
            out.append(d.date())
        elif isinstance(d, _dt.date):
            out.append(d)
        elif isinstance(d, str | np.datetime64):
            ts = pd.Timestamp(d)
            if ts != ts.normalize():
                raise ValueError(f"snapshot dates are calendar dates; got a time of day {d!r}")
            out.append(ts.date())
        else:
            raise TypeError(f"snapshot dates: cannot read {d!r} as a calendar date")
    return sorted(set(out))


def snapshot_cutoffs(dates: Iterable[object], calendar: OrgCalendar | None = None) -> pd.DataFrame:
    """The instant each snapshot date ends: the next local midnight, in UTC.

    Returns
    -------
    pandas.DataFrame
        ``snapshot_date`` (naive date) and ``cutoff`` (UTC instant), one row per distinct date,
        sorted.

    Examples
    --------
    >>> snapshot_cutoffs(["2025-03-31"])["cutoff"].iloc[0]   # Oslo is UTC+2 in summer time
    Timestamp('2025-03-31 22:00:00+0000', tz='UTC')
    """
    cal = calendar or OrgCalendar()
    days = _dates(dates)
    cut = [cal.midnight(d + _dt.timedelta(days=1)) for d in days]
    return pd.DataFrame(
        {
            "snapshot_date": pd.Series(pd.to_datetime(days), dtype="datetime64[us]"),
            "cutoff": pd.Series(cut, dtype="datetime64[us, UTC]"),
        }
    )


def _seconds(times: pd.Series) -> np.ndarray:
    """UTC instants → whole seconds since _BASE (floor), int64; NaT → -1."""
    values = times.to_numpy(dtype="datetime64[us]")
    nat = np.isnat(values)
    out = (values.astype("datetime64[s]") - _BASE).astype("int64")
    # astype to seconds truncates toward zero; after 1900 values are positive so that is floor
    out[nat] = -1
    return out


class _Events:
    """One kind of event sorted by (deal position, time): answers 'last event before t'."""

    def __init__(self, position: np.ndarray, seconds: np.ndarray):
        keep = (position >= 0) & (seconds >= 0)
        rows = np.flatnonzero(keep)
        key = position[rows].astype("int64") * _SHIFT + seconds[rows]
        order = np.argsort(key, kind="stable")
        self.rows = rows[order]  # original row of each sorted event
        self.key = key[order]
        self.deal = position[self.rows]

    def last_before(self, deal: np.ndarray, cutoff_s: np.ndarray) -> np.ndarray:
        """Index (into the sorted events) of the deal's last event before the cutoff, else -1."""
        i = np.searchsorted(self.key, deal.astype("int64") * _SHIFT + cutoff_s, side="left") - 1
        ok = i >= 0
        ok[ok] = self.deal[i[ok]] == deal[ok]
        return np.where(ok, i, -1)

    def first_of(self, deal: np.ndarray) -> np.ndarray:
        """Index of the deal's first event (any time), else -1."""
        i = np.searchsorted(self.key, deal.astype("int64") * _SHIFT, side="left")
        ok = i < len(self.key)
        ok[ok] = self.deal[i[ok]] == deal[ok]
        return np.where(ok, i, -1)

    def count_before(self, deal: np.ndarray, cutoff_s: np.ndarray, weights: np.ndarray | None = None):
        """How many of the deal's events (or the sum of their weights) fall before the cutoff."""
        w = np.ones(len(self.key), dtype="int64") if weights is None else weights[self.rows]
        cum = np.concatenate([[0], np.cumsum(w)])
        start = np.searchsorted(self.key, deal.astype("int64") * _SHIFT, side="left")
        end = np.searchsorted(self.key, deal.astype("int64") * _SHIFT + cutoff_s, side="left")
        return cum[end] - cum[start]


def _value_then(
    events: _Events, old: np.ndarray, new: np.ndarray, current: np.ndarray, deal: np.ndarray, cut: np.ndarray
) -> np.ndarray:
    """A tracked field's value at the cutoff: ``new`` of the last change before it, else ``old``
    of the first change after it, else the current value."""
    out = current[deal].copy()
    last = events.last_before(deal, cut)
    has = last >= 0
    out[has] = new[events.rows[last[has]]]
    first = events.first_of(deal)
    later = ~has & (first >= 0)
    out[later] = old[events.rows[first[later]]]
    return out


def _parse_int(values: pd.Series) -> np.ndarray:
    num = pd.to_numeric(values.astype(object), errors="coerce")
    return np.asarray(num, dtype="float64")


def _parse_date(values: pd.Series) -> np.ndarray:
    text = values.astype(object).astype("str").str.slice(0, 10)
    # each distinct date parsed once (close dates repeat): -1 (missing) reads the appended NaT
    codes, uniq = pd.factorize(text, use_na_sentinel=True)
    days = pd.to_datetime(pd.Series(uniq, dtype=text.dtype), format="%Y-%m-%d", errors="coerce")
    return np.append(days.to_numpy(dtype="datetime64[us]"), np.datetime64("NaT", "us"))[codes]


def _parse_owner(values: pd.Series, emails: dict[str, int]) -> np.ndarray:
    text = values.astype(object).astype("str").str.strip()
    digits = pd.to_numeric(text.where(text.str.fullmatch(r"\d+", na=False)), errors="coerce")
    by_email = text.str.lower().map(emails) if emails else pd.Series(np.nan, index=text.index)
    out = np.array(digits, dtype="float64")
    fill = np.isnan(out)
    out[fill] = np.asarray(by_email, dtype="float64")[fill]
    return out


def pipeline_snapshots(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    deal_changes: pd.DataFrame,
    activities: pd.DataFrame,
    dates: Iterable[object],
    *,
    calendar: OrgCalendar | None = None,
    reps: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Every deal open at the end of each date in ``dates``, as it stood then.

    Parameters
    ----------
    deals, deal_stages, deal_changes, activities : pandas.DataFrame
        Frames following :mod:`metrics.frames` (validated here).
    dates : iterable of dates
        Org-local calendar dates (``datetime.date``, ``"YYYY-MM-DD"``, naive midnight
        timestamps); duplicates are dropped, the result is sorted by date then deal.
    calendar : OrgCalendar, optional
        The org's time zone (default :class:`OrgCalendar()`, Europe/Oslo).
    reps : pandas.DataFrame, optional
        The ``reps`` frame, to resolve owner e-mails in ``deal_changes`` to rep ids.

    Returns
    -------
    pandas.DataFrame
        The columns of :data:`SNAPSHOT_COLUMNS` (see the module docstring).

    Examples
    --------
    Deal 1 is created on 2 March in discovery for 100.00, moves to demo on 10 March, and its
    amount is raised to 150.00 on 12 March; it is won on 20 March.

    >>> from metrics.frames import build
    >>> deals = build("deals", deal_id=[1], owner_rep_id=7, amount=15000, currency="NOK",
    ...     stage="won", outcome="won", created_at="2025-03-02 09:00Z", closed_at="2025-03-20 09:00Z")
    >>> stages = build("deal_stages", deal_id=[1, 1, 1], from_stage=[None, "discovery", "demo"],
    ...     to_stage=["discovery", "demo", "won"],
    ...     at=["2025-03-02 09:00Z", "2025-03-10 09:00Z", "2025-03-20 09:00Z"])
    >>> changes = build("deal_changes", deal_id=[1], field="amount", old="10000", new="15000",
    ...     at="2025-03-12 09:00Z")
    >>> acts = build("activities", activity_id=[1], rep_id=7, kind="call", at="2025-03-05 09:00Z",
    ...     deal_id=1, contact_id=3)
    >>> snap = pipeline_snapshots(deals, stages, changes, acts, ["2025-03-05", "2025-03-11",
    ...     "2025-03-15", "2025-03-25"])
    >>> snap[["snapshot_date", "stage", "amount", "days_in_stage", "engaged_contacts"]]
      snapshot_date      stage  amount  days_in_stage  engaged_contacts
    0    2025-03-05  discovery   10000              3                 1
    1    2025-03-11       demo   10000              1                 1
    2    2025-03-15       demo   15000              5                 1
    """
    deals = validate(deals, "deals")
    deal_stages = validate(deal_stages, "deal_stages")
    deal_changes = validate(deal_changes, "deal_changes")
    activities = validate(activities, "activities")
    cuts = snapshot_cutoffs(dates, calendar)
    emails: dict[str, int] = {}
    if reps is not None:
        reps = validate(reps, "reps")
        for rid, email in zip(
            reps["rep_id"].to_numpy(), reps["email"].astype(object).to_numpy(), strict=True
        ):
            if isinstance(email, str):
                emails[email.strip().lower()] = int(rid)

    cut_s = _seconds(cuts["cutoff"])
    created_s = _seconds(deals["created_at"])
    closed_s = _seconds(deals["closed_at"])
    settled_undated = (deals["outcome"].to_numpy(dtype=object) != "open") & (closed_s < 0)
    if len(cut_s):
        # only deals open at some cutoff matter (a quarter's dates touch a sliver of a long
        # history): the others and their events are dropped before anything is sorted
        window = (created_s < cut_s.max()) & ~((closed_s >= 0) & (closed_s < cut_s.min())) & ~settled_undated
        if not window.all():
            keep = np.flatnonzero(window)
            deals = deals.iloc[keep]
            created_s, closed_s, settled_undated = created_s[keep], closed_s[keep], settled_undated[keep]
    ids = deals["deal_id"].to_numpy(dtype="int64")
    index = pd.Index(ids)

    # (date, deal) pairs: created before the cutoff and not closed before it (per deals)
    pair_date, pair_deal = [], []
    for j, c in enumerate(cut_s):
        open_now = (created_s < c) & ~((closed_s >= 0) & (closed_s < c)) & ~settled_undated
        pos = np.flatnonzero(open_now)
        pair_deal.append(pos)
        pair_date.append(np.full(len(pos), j, dtype="int64"))
    deal = np.concatenate(pair_deal) if pair_deal else np.zeros(0, dtype="int64")
    date = np.concatenate(pair_date) if pair_date else np.zeros(0, dtype="int64")
    order = np.lexsort((date, deal))  # deal-major: the binary searches below then walk forward
    deal, date = deal[order], date[order]
    cut = cut_s[date]

    # stage then, as codes into one vocabulary (-1 = unknown)
    st_pos = index.get_indexer(deal_stages["deal_id"].to_numpy(dtype="int64"))
    if (st_pos < 0).any():  # moves of deals not in the window: not read at all
        mine = np.flatnonzero(st_pos >= 0)
        deal_stages, st_pos = deal_stages.iloc[mine], st_pos[mine]
    to_raw = deal_stages["to_stage"].astype(object)
    from_raw = deal_stages["from_stage"].astype(object)
    now_raw = deals["stage"].astype(object).where(~deals["stage"].isin(_CLOSED).to_numpy(), None)
    codes, vocab = pd.factorize(pd.concat([to_raw, from_raw, now_raw], ignore_index=True))
    n_moves = len(deal_stages)
    to_code, from_code = codes[:n_moves], codes[n_moves : 2 * n_moves]
    now_code = codes[2 * n_moves :]
    closed_codes = np.flatnonzero(np.isin(np.asarray(vocab, dtype=object), _CLOSED))
    moves = _Events(st_pos, _seconds(deal_stages["at"]))
    last = moves.last_before(deal, cut)
    has = last >= 0
    stage = now_code[deal].copy()
    stage[has] = to_code[moves.rows[last[has]]]
    first = moves.first_of(deal)
    before_first = ~has & (first >= 0)
    stage[before_first] = from_code[moves.rows[first[before_first]]]
    entered = created_s[deal].copy()
    entered[has] = moves.key[last[has]] - moves.deal[last[has]].astype("int64") * _SHIFT
    keep = np.flatnonzero(~np.isin(stage, closed_codes))
    deal, date, cut, stage, entered = deal[keep], date[keep], cut[keep], stage[keep], entered[keep]

    # amount, expected close, owner then
    ch_pos = index.get_indexer(deal_changes["deal_id"].to_numpy(dtype="int64"))
    ch_s = _seconds(deal_changes["at"])

    def tracked(name: str) -> tuple[_Events, pd.Series, pd.Series]:
        rows = np.flatnonzero(
            (deal_changes["field"] == name).to_numpy(dtype=bool, na_value=False) & (ch_pos >= 0)
        )
        old = deal_changes["old"].iloc[rows].reset_index(drop=True)
        new = deal_changes["new"].iloc[rows].reset_index(drop=True)
        return _Events(ch_pos[rows], ch_s[rows]), old, new

    amount_ev, old, new = tracked("amount")
    current_amount = deals["amount"].to_numpy(dtype="float64")
    amount = _value_then(amount_ev, _parse_int(old), _parse_int(new), current_amount, deal, cut)
    amount = np.where(np.isnan(amount), current_amount[deal], amount)

    close_ev, old, new = tracked("expected_close")
    old_close, new_close = _parse_date(old), _parse_date(new)
    current_close = deals["expected_close"].to_numpy(dtype="datetime64[us]")
    expected = _value_then(close_ev, old_close, new_close, current_close, deal, cut)
    pushed = ~np.isnat(old_close) & ~np.isnat(new_close) & (new_close > old_close)
    times_pushed = close_ev.count_before(deal, cut, pushed.astype("int64"))

    owner_ev, old, new = tracked("owner")
    current_owner = deals["owner_rep_id"].to_numpy(dtype="float64")
    owner = _value_then(
        owner_ev, _parse_owner(old, emails), _parse_owner(new, emails), current_owner, deal, cut
    )

    # activities: last one before the cutoff, distinct contacts engaged before it
    act_deal = activities["deal_id"]
    act_pos = index.get_indexer(act_deal.fillna(-1).to_numpy(dtype="int64"))
    act_pos[act_deal.isna().to_numpy()] = -1
    act_s = _seconds(activities["at"])
    acts = _Events(act_pos, act_s)
    last_act = acts.last_before(deal, cut)
    last_act_s = np.full(len(deal), -1, dtype="int64")
    found = last_act >= 0
    last_act_s[found] = acts.key[last_act[found]] - deal[found].astype("int64") * _SHIFT
    contact = activities["contact_id"].fillna(-1).to_numpy(dtype="int64")
    first_touch = np.zeros(len(activities), dtype="int64")
    with_contact = np.flatnonzero((act_pos >= 0) & (contact >= 0) & (act_s >= 0))
    if len(with_contact):
        # per (deal, contact) its earliest activity (the first listed among equal times): one
        # group-by on one int64 key of the pair
        d, c = act_pos[with_contact].astype("int64"), contact[with_contact]
        span = int(c.max()) + 1
        if span * (int(d.max()) + 1) < 2**62:
            pair = d * span + c
        else:
            codes, uniq = pd.factorize(c)
            pair = d * len(uniq) + codes
        first_rows = pd.Series(act_s[with_contact]).groupby(pair, sort=False).idxmin().to_numpy()
        first_touch[with_contact[first_rows]] = 1
    engaged = acts.count_before(deal, cut, first_touch)

    def instants(seconds: np.ndarray) -> pd.Series:
        values = (_BASE + seconds.astype("timedelta64[s]")).astype("datetime64[us]")
        values = np.where(seconds < 0, np.datetime64("NaT"), values)
        return pd.Series(values, dtype="datetime64[us]").dt.tz_localize("UTC")

    # by date, then deal id (the cutoffs are sorted and distinct): the arrays put in order once
    order = np.lexsort((ids[deal], date))
    deal, date, cut, stage, entered = deal[order], date[order], cut[order], stage[order], entered[order]
    owner, amount, expected = owner[order], amount[order], expected[order]
    times_pushed, last_act_s, engaged = times_pushed[order], last_act_s[order], engaged[order]
    outcome = pd.Categorical(deals["outcome"].astype(object).to_numpy(), categories=DEAL_OUTCOMES)
    out = pd.DataFrame(
        {
            "snapshot_date": cuts["snapshot_date"].to_numpy()[date],
            "deal_id": ids[deal],
            "owner_rep_id": pd.array(np.where(np.isnan(owner), 0, owner).astype("int64"), dtype="Int64"),
            "stage": pd.Categorical.from_codes(stage, categories=pd.Index(vocab, dtype="str")),
            "amount": amount.astype("int64"),
            "expected_close": pd.Series(expected, dtype="datetime64[us]"),
            "created_at": 0,
            "days_in_stage": ((cut - entered) // _DAY_S).astype("int64"),
            "times_pushed": times_pushed.astype("int64"),
            "last_activity_at": instants(last_act_s),
            "engaged_contacts": engaged.astype("int64"),
            "outcome": outcome[deal],
            "closed_at": 0,
            "final_amount": deals["amount"].to_numpy(dtype="int64")[deal],
        }
    )
    out.loc[np.isnan(owner), "owner_rep_id"] = pd.NA
    out["created_at"] = deals["created_at"].iloc[deal].reset_index(drop=True)
    out["closed_at"] = deals["closed_at"].iloc[deal].reset_index(drop=True)
    return out[list(SNAPSHOT_COLUMNS)]
