"""What changed since last week (the forecast page): two hand-made snapshots, every kind of change."""

from __future__ import annotations

import pandas as pd

from metrics.periods import OrgCalendar
from scoreboard.forecasting import changes_since


def snap(rows):
    return pd.DataFrame(rows, columns=["deal_id", "owner_rep_id", "amount", "expected_close"]).assign(
        expected_close=lambda f: pd.to_datetime(f["expected_close"])
    )


def test_each_change_is_named_once_with_its_before_and_after():
    cal = OrgCalendar()
    quarter = cal.quarter("2026-11-01")
    cut_before, cut_after = cal.midnight("2026-11-24"), cal.midnight("2026-12-01")
    before = snap(
        [
            (1, 7, 100_00, "2026-12-10"),  # pushed out of the quarter
            (2, 7, 200_00, "2027-01-15"),  # pulled into the quarter
            (3, 8, 300_00, "2026-12-01"),  # amount cut
            (4, 8, 400_00, "2026-12-05"),  # won this week
            (5, 8, 500_00, "2026-12-05"),  # lost this week
            (6, 8, 600_00, "2026-12-20"),  # unchanged
        ]
    )
    after = snap(
        [
            (1, 7, 100_00, "2027-01-07"),
            (2, 7, 200_00, "2026-12-18"),
            (3, 8, 250_00, "2026-12-01"),
            (6, 8, 600_00, "2026-12-20"),
            (9, 7, 90_00, "2026-12-30"),  # new this week
        ]
    )
    deals = pd.DataFrame(
        {
            "deal_id": [1, 2, 3, 4, 5, 6, 9],
            "outcome": ["open", "open", "open", "won", "lost", "open", "open"],
            "amount": [100_00, 200_00, 250_00, 410_00, 500_00, 600_00, 90_00],
            "closed_at": pd.to_datetime(
                [None, None, None, "2026-11-27 10:00:00", "2026-11-26 10:00:00", None, None],
                utc=True,
                format="ISO8601",
            ),
            "created_at": pd.to_datetime(["2026-09-01 09:00:00"] * 6 + ["2026-11-28 09:00:00"], utc=True),
        }
    )
    ch = changes_since(before, after, deals, quarter, cut_before, cut_after)
    got = {(r.deal_id, r.kind) for r in ch.itertuples()}
    assert got == {(1, "pushed"), (2, "pulled_in"), (3, "amount"), (4, "won"), (5, "lost"), (9, "new")}
    row = ch.set_index("deal_id")
    assert bool(row.loc[1, "out_of_quarter"]) and not bool(row.loc[1, "into_quarter"])
    assert bool(row.loc[2, "into_quarter"])
    assert (row.loc[3, "amount_before"], row.loc[3, "amount_after"]) == (300_00, 250_00)
    assert row.loc[4, "amount_after"] == 410_00  # won at its final amount
    assert list(ch["kind"]) == ["new", "pulled_in", "pushed", "won", "lost", "amount"]
