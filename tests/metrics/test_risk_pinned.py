"""The deal warnings' outputs pinned on generated orgs, so that a speed-up cannot change a result
unnoticed.

Oracle: the digests below were computed by the implementation before the speed-up (commit
b2bde55) with :func:`outputs` as written here. Every frame is hashed whole (values, dtypes, order,
index), and the health model's coefficients and probabilities too, floats to 10 significant
digits: the last bits of a sum depend on the CPU's vector width and the BLAS (the old health fit
even on its thread count), and a pin must not fail on another machine. On the development machine
the outputs were also compared bit for bit (``check_exact``) with the old code's, and matched, the
health fit with one BLAS thread, as :func:`metrics.risk.health.fit_health` now always runs. When a
result is meant to change, recompute the digests with the new code and say why in the commit.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from pinning import hash_frame, plain

from metrics.forecast.snapshots import pipeline_snapshots
from metrics.risk import alert_list, current_flags, history, lead_time_recall, lift_table, norms
from metrics.risk.health import fit_health
from metrics.risk.settings import RiskSettings
from metrics.risk.synthetic import synthetic_org


def digest(value: object) -> str:
    """sha256 (first 16 hex digits) of a frame (values, dtypes, column names, order) or a value,
    floats to 10 significant digits (:func:`pinning.plain`)."""
    h = hashlib.sha256()
    if isinstance(value, pd.DataFrame):
        hash_frame(h, value, list_cells=True)
    else:
        h.update(repr(plain(value)).encode())
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
        "norms": "1746e8cc0c814156",
        "flags now": "257dc14547df4a60",
        "flags attrs": "7262f06cfe92c646",
        "history": "99a1826a20597ade",
        "history attrs": "2619c44a7f3e9c90",
        "lift": "7ff5e7ac0c36ba11",
        "lift measured": "6746faf4ce7c897b",
        "alert list": "10e9ce5af3ee9662",
        "recall": "d1996ba7dac09b0b",
        "snapshots": "e69b9b463e52d32f",
        "health": "057005e2fa7abb10",
        "health predict": "dd7250b9928dce6b",
    },
    (4, 600, 300): {
        "norms": "ccd90c28508796da",
        "flags now": "4e77dcdb551e91ae",
        "flags attrs": "da2525999ba1fc78",
        "history": "c13c678d650ac443",
        "history attrs": "b79f962485b78883",
        "lift": "b58cb12802dc05fb",
        "lift measured": "e537d8afcee051bf",
        "alert list": "47681a9c99677094",
        "recall": "4eec91837bb34891",
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
