"""As-of deal states for the flags: each deal open at each date, with what was known then.

:func:`deal_states` rebuilds, for every (date, deal open at that date), the stage and when it was
entered, the amount and its earlier peak, the expected close date, how often it was pushed later
(and whether it was pushed out of the quarter during the quarter), and the last owner change. The
as-of stage, amount, close date and owner come from the forecast's weekly snapshots
(:func:`metrics.forecast.snapshots.pipeline_snapshots`) when that module is there; the counters
the snapshots do not carry (peak amount, push out of the quarter, last owner change) are read from
``deal_changes`` here. Everything is vectorised with sorted keys and ``searchsorted``: a year of
weekly states of 100,000 deals is a few million rows and a second or so.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from metrics.frames import validate

__all__ = ["Events", "deal_states", "quarter_bounds", "seconds", "stage_codes"]

_CLOSED = ("won", "lost")
UNKNOWN_STAGE = "unknown"


def seconds(values: pd.Series | pd.DatetimeIndex | np.ndarray) -> np.ndarray:
    """UTC instants as int64 seconds since the epoch (NaT → the minimum int64)."""
    arr = pd.DatetimeIndex(values) if not isinstance(values, pd.DatetimeIndex) else values
    if arr.tz is not None:
        arr = arr.tz_convert("UTC").tz_localize(None)
    out = arr.to_numpy(dtype="datetime64[s]").astype("int64")
    return out


def stage_codes(stage: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Codes of each row's stage into its distinct stages (−1: missing), from a categorical's
    codes without turning each row into an object."""
    if isinstance(stage.dtype, pd.CategoricalDtype):
        used = np.unique(stage.cat.codes.to_numpy())
        used = used[used >= 0]
        lut = np.full(len(stage.cat.categories) + 1, -1, dtype="int64")
        lut[used] = np.arange(len(used))
        return lut[stage.cat.codes.to_numpy()], stage.cat.categories.to_numpy(dtype=object)[used]
    codes, uniq = pd.factorize(stage.to_numpy(dtype=object))
    return codes, np.asarray(uniq, dtype=object)


def quarter_bounds(days: np.ndarray, fiscal_start_month: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """First day and the day after the last day of the (fiscal) quarter of each ``datetime64[D]``."""
    months = days.astype("datetime64[M]").astype("int64")  # months since 1970-01
    shift = fiscal_start_month - 1
    q = np.floor_divide(months - shift, 3)
    start_m = q * 3 + shift
    start = start_m.astype("datetime64[M]").astype("datetime64[D]")
    end = (start_m + 3).astype("datetime64[M]").astype("datetime64[D]")
    return start, end


class Events:
    """Events of one kind, keyed by a deal position and a time, for "last before"/"count in window".

    ``pos`` are positions into the deal table (−1 = not a deal of interest and dropped),
    ``t`` int64 seconds. Queries take arrays of positions and times.
    """

    _SHIFT = 34  # 2**34 s ≈ 544 years of seconds from the base

    def __init__(self, pos: np.ndarray, t: np.ndarray, base: int, extra: dict[str, np.ndarray] | None = None):
        keep = (pos >= 0) & (t > np.iinfo("int64").min)
        pos, t = pos[keep].astype("int64"), t[keep].astype("int64")
        key = (pos << self._SHIFT) | np.clip(t - base, 0, (1 << self._SHIFT) - 1)
        order = np.argsort(key, kind="stable")
        self.key = key[order]
        self.pos = pos[order]
        self.t = t[order]
        self.base = base
        self.extra = {k: np.asarray(v)[keep][order] for k, v in (extra or {}).items()}

    def __len__(self) -> int:
        return len(self.key)

    def _key(self, pos: np.ndarray, t: np.ndarray) -> np.ndarray:
        return (pos.astype("int64") << self._SHIFT) | np.clip(t - self.base, 0, (1 << self._SHIFT) - 1)

    def before(self, pos: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Index of the last event of the same deal strictly before ``t``; −1 if none."""
        idx = np.searchsorted(self.key, self._key(pos, t), side="left") - 1
        ok = idx >= 0
        ok[ok] = self.pos[idx[ok]] == pos[ok]
        return np.where(ok, idx, -1)

    def after(self, pos: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Index of the first event of the same deal at or after ``t``; −1 if none."""
        idx = np.searchsorted(self.key, self._key(pos, t), side="left")
        ok = idx < len(self.key)
        ok[ok] = self.pos[idx[ok]] == pos[ok]
        return np.where(ok, idx, -1)

    def count(self, pos: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> np.ndarray:
        """Number of events of the same deal with ``t0 <= t < t1``."""
        a = np.searchsorted(self.key, self._key(pos, t0), side="left")
        b = np.searchsorted(self.key, self._key(pos, t1), side="left")
        return (b - a).astype("int64")

    def window(self, pos: np.ndarray, t0: np.ndarray, t1: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Index range ``[a, b)`` of the same deal's events with ``t0 <= t < t1``."""
        a = np.searchsorted(self.key, self._key(pos, t0), side="left")
        b = np.searchsorted(self.key, self._key(pos, t1), side="left")
        return a, b

    def count_marked(self, name: str, window: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
        """Number of events in each ``window`` (from :meth:`window`) whose boolean extra ``name``
        is set: the count an index of only those events would give, without sorting them again."""
        cum = np.concatenate([[0], np.cumsum(self.extra[name], dtype="int64")])
        a, b = window
        return (cum[b] - cum[a]).astype("int64")

    def last_time(self, pos: np.ndarray, t: np.ndarray) -> np.ndarray:
        """Time of the last event before ``t`` (seconds), NaN if none."""
        if not len(self.t):
            return np.full(len(pos), np.nan)
        i = self.before(pos, t)
        return np.where(i >= 0, self.t[np.maximum(i, 0)].astype("float64"), np.nan)


def _open_rows(deals: pd.DataFrame, dates: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    created = seconds(deals["created_at"])
    closed = seconds(deals["closed_at"])
    outcome = deals["outcome"].to_numpy(dtype=object)
    has_close = closed > np.iinfo("int64").min
    # A deal stored won/lost without closed_at: its closing time is unknown; open only "now" never.
    closed = np.where(has_close, closed, np.where(outcome == "open", np.iinfo("int64").max, created))
    rows_d, rows_i = [], []
    for j, d in enumerate(dates):
        idx = np.flatnonzero((created < d) & (closed >= d))
        rows_i.append(idx)
        rows_d.append(np.full(len(idx), j, dtype="int64"))
    if not rows_i:
        return np.array([], dtype="int64"), np.array([], dtype="int64")
    d, i = np.concatenate(rows_d), np.concatenate(rows_i)
    order = np.lexsort((d, i))  # by deal, then date: the event look-ups then walk memory in order
    return d[order], i[order]


def _change_events(changes: pd.DataFrame, pos_of: pd.Series, fieldname: str, base: int, **extra) -> Events:
    rows = changes.loc[changes["field"].to_numpy(dtype=object) == fieldname]
    pos = pos_of.reindex(rows["deal_id"].to_numpy()).to_numpy(dtype="float64")
    pos = np.where(np.isnan(pos), -1, pos).astype("int64")
    ex = {k: f(rows) for k, f in extra.items()}
    return Events(pos, seconds(rows["at"]), base, ex)


def _num(s: pd.Series) -> np.ndarray:
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64", na_value=np.nan)


def _day(s: pd.Series) -> np.ndarray:
    d = pd.to_datetime(s, errors="coerce", format="ISO8601")
    return (
        d.to_numpy(dtype="datetime64[D]")
        if not hasattr(d.dtype, "tz") or d.dt.tz is None
        else (d.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[D]"))
    )


def deal_states(
    deals: pd.DataFrame,
    deal_stages: pd.DataFrame,
    deal_changes: pd.DataFrame,
    dates: Iterable[pd.Timestamp],
    *,
    fiscal_start_month: int = 1,
) -> pd.DataFrame:
    """Every deal open at each of ``dates`` (UTC instants), as it stood just before that instant.

    Returns
    -------
    pandas.DataFrame
        One row per (date, open deal): ``date_index``, ``pos`` (row of ``deals``), ``deal_id``,
        ``t`` (the date, int64 s), ``stage`` (``"unknown"`` for a deal stored closed with no
        stage history before the date), ``entered`` (s), ``amount`` and ``peak_amount`` (minor
        units, the highest earlier amount), ``expected_close`` (``datetime64[D]``, NaT if none),
        ``pushes`` (times the close date moved later), ``quarter_push`` (moved out of the
        quarter during the quarter), ``owner_changed`` (s of the last owner change, NaN if
        none), ``owner_rep_id``.

    Examples
    --------
    >>> from metrics.frames import build, empty
    >>> deals = build("deals", deal_id=[7], owner_rep_id=1, amount=500, currency="NOK",
    ...     stage="demo", outcome="open", created_at="2025-01-01", expected_close="2025-03-01")
    >>> ch = build("deal_changes", deal_id=[7, 7], field=["amount", "expected_close"],
    ...     old=["800", "2025-02-01"], new=["500", "2025-03-01"], at=["2025-01-10", "2025-01-12"])
    >>> s = deal_states(deals, empty("deal_stages"), ch, [pd.Timestamp("2025-01-11", tz="UTC")])
    >>> s[["deal_id", "amount", "peak_amount", "pushes"]].to_dict("records")
    [{'deal_id': 7, 'amount': 500.0, 'peak_amount': 800.0, 'pushes': 0}]
    >>> str(s["expected_close"].iloc[0])[:10]
    '2025-02-01'
    """
    deals = validate(deals, "deals")
    deal_stages = validate(deal_stages, "deal_stages")
    deal_changes = validate(deal_changes, "deal_changes")
    dts = np.array(
        [
            int(pd.Timestamp(d).tz_convert("UTC").timestamp())
            if pd.Timestamp(d).tzinfo
            else int(pd.Timestamp(d, tz="UTC").timestamp())
            for d in dates
        ],
        dtype="int64",
    )
    base = int(min(dts.min(initial=0), 0))
    date_i, pos = _open_rows(deals, dts)
    t = dts[date_i] if len(dts) else np.array([], dtype="int64")
    ids = deals["deal_id"].to_numpy(dtype="int64")
    pos_of = pd.Series(np.arange(len(deals)), index=ids)

    # stage at t
    sp = pos_of.reindex(deal_stages["deal_id"].to_numpy()).to_numpy(dtype="float64")
    sp = np.where(np.isnan(sp), -1, sp).astype("int64")
    st = Events(sp, seconds(deal_stages["at"]), base, {"to": deal_stages["to_stage"].to_numpy(dtype=object)})
    i = st.before(pos, t)
    cur_stage = deals["stage"].to_numpy(dtype=object)[pos]
    stage = np.where(i >= 0, st.extra["to"][np.maximum(i, 0)] if len(st) else cur_stage, cur_stage)
    stage = np.where(np.isin(stage, _CLOSED), UNKNOWN_STAGE, stage)
    created = seconds(deals["created_at"])[pos]
    entered = np.where(i >= 0, st.t[np.maximum(i, 0)] if len(st) else created, created)

    # amount: the value at t is the new of the last change before t, else the old of the first after
    amt = _change_events(
        deal_changes, pos_of, "amount", base, old=lambda r: _num(r["old"]), new=lambda r: _num(r["new"])
    )
    amount = deals["amount"].to_numpy(dtype="float64")[pos]
    peak = amount.copy()
    if len(amt):
        b = amt.before(pos, t)
        a = amt.after(pos, t)
        amount = np.where(
            b >= 0,
            amt.extra["new"][np.maximum(b, 0)],
            np.where(a >= 0, amt.extra["old"][np.maximum(a, 0)], amount),
        )
        amount = np.where(np.isnan(amount), deals["amount"].to_numpy(dtype="float64")[pos], amount)
        # peak of every value the deal held before t: olds and news of earlier changes
        vals = np.fmax(amt.extra["old"], amt.extra["new"])
        vals = np.where(np.isnan(vals), -np.inf, vals)
        run = pd.Series(vals).groupby(amt.pos).cummax().to_numpy()
        peak = np.where(b >= 0, np.fmax(run[np.maximum(b, 0)], amount), amount)

    # expected close at t and pushes
    ec = _change_events(
        deal_changes,
        pos_of,
        "expected_close",
        base,
        old=lambda r: _day(r["old"]),
        new=lambda r: _day(r["new"]),
    )
    close = deals["expected_close"].to_numpy(dtype="datetime64[D]")[pos]
    pushes = np.zeros(len(pos), dtype="int64")
    qpush = np.zeros(len(pos), dtype=bool)
    if len(ec):
        b = ec.before(pos, t)
        a = ec.after(pos, t)
        close = np.where(
            b >= 0,
            ec.extra["new"][np.maximum(b, 0)],
            np.where(a >= 0, ec.extra["old"][np.maximum(a, 0)], close),
        )
        later = ec.extra["new"] > ec.extra["old"]  # NaT compares False
        cum = pd.Series(later.astype("int64")).groupby(ec.pos).cumsum().to_numpy()
        pushes = np.where(b >= 0, cum[np.maximum(b, 0)], 0)
        # out of the quarter: the old date in the change's quarter, the new one after it
        cday = ec.t // 86400
        cday = cday.astype("datetime64[D]")
        _, qend = quarter_bounds(cday, fiscal_start_month)
        out = later & (ec.extra["old"] < qend) & (ec.extra["new"] >= qend)
        qe = Events(ec.pos[out], ec.t[out], base)
        last_out = qe.last_time(pos, t)
        qstart, _ = quarter_bounds((t // 86400).astype("datetime64[D]"), fiscal_start_month)
        qs = qstart.astype("datetime64[s]").astype("int64")
        qpush = np.isfinite(last_out) & (last_out >= qs)

    own = _change_events(deal_changes, pos_of, "owner", base)
    owner_changed = own.last_time(pos, t) if len(own) else np.full(len(pos), np.nan)

    return pd.DataFrame(
        {
            "date_index": date_i,
            "pos": pos,
            "deal_id": ids[pos],
            "t": t,
            "stage": pd.Categorical(stage),
            "entered": entered,
            "created": created,
            "amount": amount,
            "peak_amount": peak,
            "expected_close": close,
            "pushes": pushes,
            "quarter_push": qpush,
            "owner_changed": owner_changed,
            "owner_rep_id": deals["owner_rep_id"].to_numpy(dtype="int64")[pos],
        }
    )


def _open_stage(stage: pd.Series, order: np.ndarray) -> pd.Categorical:
    """The snapshots' stage in ``order`` as a categorical of the stages present, a closed or
    missing stage read as ``"unknown"``: relabelled per category, not per row."""
    if not isinstance(stage.dtype, pd.CategoricalDtype):
        st = stage.astype(object).fillna(UNKNOWN_STAGE).to_numpy(dtype=object)[order]
        return pd.Categorical(np.where(np.isin(st, _CLOSED), UNKNOWN_STAGE, st))
    labels = stage.cat.categories.to_numpy(dtype=object)
    labels = np.append(np.where(np.isin(labels, _CLOSED), UNKNOWN_STAGE, labels), UNKNOWN_STAGE)
    codes = stage.cat.codes.to_numpy()[order]  # -1 (missing) reads the appended "unknown"
    present = labels[np.unique(codes)] if len(codes) else labels[:0]
    cats = pd.Categorical(present).categories  # the categories pd.Categorical(row labels) infers
    return pd.Categorical.from_codes(cats.get_indexer(labels)[codes], dtype=pd.CategoricalDtype(cats))


def states_from_snapshots(
    snapshots: pd.DataFrame,
    cutoffs: pd.DataFrame,
    deals: pd.DataFrame,
    deal_changes: pd.DataFrame,
    *,
    fiscal_start_month: int = 1,
) -> pd.DataFrame:
    """:func:`deal_states`'s frame from the forecast's snapshots
    (:func:`metrics.forecast.snapshots.pipeline_snapshots`, at ``cutoffs`` from
    :func:`metrics.forecast.snapshots.snapshot_cutoffs`): their stage, amount, close date, pushes
    and owner; the counters they do not carry (the amount's earlier peak, a push out of the
    quarter, the last owner change) from ``deal_changes`` here. ``entered`` is to the day (the
    snapshots count whole days in stage)."""
    deals = validate(deals, "deals")
    deal_changes = validate(deal_changes, "deal_changes")
    cut = pd.Series(seconds(cutoffs["cutoff"]), index=pd.DatetimeIndex(cutoffs["snapshot_date"]))
    t = cut.reindex(pd.DatetimeIndex(snapshots["snapshot_date"])).to_numpy(dtype="int64")
    date_i = pd.Index(cutoffs["snapshot_date"]).get_indexer(snapshots["snapshot_date"])
    ids = deals["deal_id"].to_numpy(dtype="int64")
    pos_of = pd.Series(np.arange(len(deals)), index=ids)
    pos = pos_of.reindex(snapshots["deal_id"].to_numpy(dtype="int64")).to_numpy(dtype="int64")
    order = np.lexsort((t, pos))
    t, pos, date_i = t[order], pos[order], date_i[order]

    def col(name: str, dtype: str) -> np.ndarray:  # a snapshot column in (deal, time) order
        return snapshots[name].to_numpy(dtype=dtype)[order]

    base = int(min(t.min(initial=0), 0))
    stage = _open_stage(snapshots["stage"], order)
    amount = col("amount", "float64")
    peak = amount.copy()
    amt = _change_events(
        deal_changes, pos_of, "amount", base, old=lambda r: _num(r["old"]), new=lambda r: _num(r["new"])
    )
    if len(amt):
        b = amt.before(pos, t)
        vals = np.fmax(amt.extra["old"], amt.extra["new"])
        vals = np.where(np.isnan(vals), -np.inf, vals)
        run = pd.Series(vals).groupby(amt.pos).cummax().to_numpy()
        peak = np.where(b >= 0, np.fmax(run[np.maximum(b, 0)], amount), amount)
    qpush = np.zeros(len(pos), dtype=bool)
    ec = _change_events(
        deal_changes,
        pos_of,
        "expected_close",
        base,
        old=lambda r: _day(r["old"]),
        new=lambda r: _day(r["new"]),
    )
    if len(ec):
        later = ec.extra["new"] > ec.extra["old"]
        _, qend = quarter_bounds((ec.t // 86400).astype("datetime64[D]"), fiscal_start_month)
        out = later & (ec.extra["old"] < qend) & (ec.extra["new"] >= qend)
        last_out = Events(ec.pos[out], ec.t[out], base).last_time(pos, t)
        qstart, _ = quarter_bounds((t // 86400).astype("datetime64[D]"), fiscal_start_month)
        qpush = np.isfinite(last_out) & (last_out >= qstart.astype("datetime64[s]").astype("int64"))
    own = _change_events(deal_changes, pos_of, "owner", base)
    owner_changed = own.last_time(pos, t) if len(own) else np.full(len(pos), np.nan)
    owner = snapshots["owner_rep_id"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)[order]
    owner = np.where(np.isnan(owner), deals["owner_rep_id"].to_numpy(dtype="float64")[pos], owner)
    return pd.DataFrame(
        {
            "date_index": date_i,
            "pos": pos,
            "deal_id": ids[pos],
            "t": t,
            "stage": stage,
            "entered": t - col("days_in_stage", "float64") * 86400,
            "created": seconds(snapshots["created_at"])[order],
            "amount": amount,
            "peak_amount": peak,
            "expected_close": col("expected_close", "datetime64[D]"),
            "pushes": col("times_pushed", "int64"),
            "quarter_push": qpush,
            "owner_changed": owner_changed,
            "owner_rep_id": owner.astype("int64"),
        }
    )
