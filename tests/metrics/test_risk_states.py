"""The deal warnings' as-of states agree by two routes: metrics.risk.state.deal_states (used for
"now", an instant) and the forecast's pipeline snapshots completed by states_from_snapshots (used
for the weekly history), at the same cutoffs of a generated org."""

from __future__ import annotations

import numpy as np
import pandas as pd

from metrics.forecast.snapshots import pipeline_snapshots, snapshot_cutoffs
from metrics.periods import OrgCalendar
from metrics.risk.state import deal_states, states_from_snapshots
from metrics.risk.synthetic import synthetic_org


def test_two_routes_to_the_same_states() -> None:
    org = synthetic_org(seed=5, n_deals=400, days=300)
    cal = OrgCalendar()
    days = [
        pd.Timestamp("2026-03-02").date(),
        pd.Timestamp("2026-04-15").date(),
        pd.Timestamp("2026-06-01").date(),
    ]
    cut = snapshot_cutoffs(days, cal)
    snaps = pipeline_snapshots(
        org.deals, org.deal_stages, org.deal_changes, org.activities, days, calendar=cal
    )
    a = states_from_snapshots(snaps, cut, org.deals, org.deal_changes)
    b = deal_states(org.deals, org.deal_stages, org.deal_changes, list(cut["cutoff"]))
    assert len(a) > 100
    key = ["t", "deal_id"]
    a, b = a.sort_values(key).reset_index(drop=True), b.sort_values(key).reset_index(drop=True)
    assert a[key].equals(b[key])
    for col in ("stage", "amount", "peak_amount", "pushes", "quarter_push", "owner_changed"):
        x, y = a[col].to_numpy(), b[col].to_numpy()
        if x.dtype.kind == "f":
            assert np.allclose(x, y, equal_nan=True), col
        else:
            assert (x.astype(str) == y.astype(str)).all(), col
    assert (a["expected_close"].to_numpy() == b["expected_close"].to_numpy()).all()
    # days in stage: whole days in the snapshots, exact here
    assert (np.abs(a["entered"] - b["entered"]) < 86400).all()
