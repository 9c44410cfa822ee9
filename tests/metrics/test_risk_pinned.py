"""The deal warnings' outputs pinned to the last digit on generated orgs, so that a speed-up cannot
change a result unnoticed.

Oracle: the digests below were computed by the implementation before the speed-up (commit
b2bde55, run with ``OPENBLAS_NUM_THREADS=1``) with :func:`outputs` as written here. Every frame is
hashed whole (values, dtypes, order, index); the health model's coefficients and probabilities
too. The health fit is the only figure that depends on the BLAS thread count (its sums are split
across threads, ≈1e-15 relative); it is pinned as one thread computes it, which is how
:func:`metrics.risk.health.fit_health` now always runs. When a result is meant to change, recompute
the digests with the new code and say why in the commit.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from metrics.forecast.snapshots import pipeline_snapshots
from metrics.risk import alert_list, current_flags, history, lead_time_recall, lift_table, norms
from metrics.risk.health import fit_health
from metrics.risk.settings import RiskSettings
from metrics.risk.synthetic import synthetic_org


def digest(value: object) -> str:
    """sha256 (first 16 hex digits) of a frame (values, dtypes, column names, order) or array."""
    h = hashlib.sha256()
    if isinstance(value, pd.DataFrame):
        frame = value.copy()
        for col in frame.columns:
            if frame[col].dtype == object and frame[col].map(lambda v: isinstance(v, list)).any():
                frame[col] = frame[col].map(repr)
        h.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(frame, index=True).to_numpy().tobytes())
    else:
        h.update(repr(value).encode() if not isinstance(value, np.ndarray) else value.tobytes())
    return h.hexdigest()[:16]


def outputs(seed: int, n_deals: int, recent: int) -> dict[str, str]:
    """Digests of every output of the deal warnings on one generated org."""
    org = synthetic_org(seed=seed, n_deals=n_deals, recent=recent)
    s = RiskSettings()
    common = dict(
        deals=org.deals,
        deal_stages=org.deal_stages,
        deal_changes=org.deal_changes,
        activities=org.activities,
        touches=org.touches,
        contacts=org.contacts,
        settings=s,
    )
    norm = norms(org.deals, org.deal_stages, s)
    flagged = current_flags(now=org.now, norm=norm, **common)
    rows = history(until=org.now, norm=norm, **common)
    lift = lift_table(rows, s, seed=seed)
    alerts = alert_list(flagged, lift, s.alert_budget)
    health = fit_health(rows)
    days = [(org.now - pd.Timedelta(weeks=k)).date() for k in range(0, 52, 5)]
    snaps = pipeline_snapshots(org.deals, org.deal_stages, org.deal_changes, org.activities, days)
    out = {
        "norms": digest(sorted(vars(norm).items())),
        "flags now": digest(flagged),
        "flags attrs": digest(sorted(flagged.attrs.items())),
        "history": digest(rows),
        "history attrs": digest(sorted((k, repr(v)) for k, v in rows.attrs.items())),
        "lift": digest(lift.table),
        "lift measured": digest((lift.measured, lift.closed_deals)),
        "alert list": digest(alerts),
        "recall": digest(lead_time_recall(rows, lift)),
        "snapshots": digest(snaps),
    }
    if health is not None:
        out["health"] = digest(
            (health.beta, health.calib, health.auc, health.brier, health.slope, health.n_rows)
        )
        out["health predict"] = digest(health.predict(flagged))
    return out


PINNED = {
    (0, 1500, 0): {
        "norms": "e723a81d9210b05b",
        "flags now": "5325979cbbd07d10",
        "flags attrs": "f824bcf14439b08c",
        "history": "d8c8336c73399fe6",
        "history attrs": "2619c44a7f3e9c90",
        "lift": "d3d451233b1444c5",
        "lift measured": "6746faf4ce7c897b",
        "alert list": "2f429ed7f57be215",
        "recall": "24985786a49750ae",
        "snapshots": "e69b9b463e52d32f",
        "health": "51199ef4eef9db39",
        "health predict": "f4935100756610b5",
    },
    (4, 600, 300): {
        "norms": "eb3c3dc14ce71589",
        "flags now": "a494e07ac3629b39",
        "flags attrs": "99386d5dada2b787",
        "history": "c77c5468f3d04b38",
        "history attrs": "b79f962485b78883",
        "lift": "3117841b50bf8e07",
        "lift measured": "e537d8afcee051bf",
        "alert list": "bc1510fa7de41b43",
        "recall": "6a23c28f35e992b8",
        "snapshots": "0cbb91b77a120ede",
    },
}


@pytest.mark.parametrize("case", sorted(PINNED))
def test_outputs_are_those_of_the_implementation_before_the_speed_up(case: tuple[int, int, int]) -> None:
    assert outputs(*case) == PINNED[case]


def test_first_seen_is_the_earliest_time_per_deal_and_contact() -> None:
    """Oracle: a pandas group-by minimum, on random pairs with dense and sparse contact ids and
    short and long time spans (both the packed sort and the argsort path)."""
    from metrics.risk.flags import _first_seen

    rng = np.random.default_rng(0)
    for trial in range(100):
        n = int(rng.integers(1, 300))
        pos = rng.integers(0, 20, n)
        t = rng.integers(0, 10 ** int(rng.integers(1, 18)), n)
        top = 10 ** int(rng.integers(1, 17)) if trial % 2 else 30
        c = rng.integers(0, top, n).astype("float64")
        want = pd.DataFrame({"pos": pos, "c": c, "t": t}).groupby(["pos", "c"])["t"].min().reset_index()
        p, cid, first = _first_seen(pos, c, t)
        got = pd.DataFrame({"pos": p, "c": cid.astype("float64"), "t": first})
        got = got.sort_values(["pos", "c"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(want, got)
