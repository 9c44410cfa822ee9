"""Benchmark: the content funnel (:func:`metrics.content.content_funnel`) at org scale.

Generates 2,000 content items, 500,000 contacts (4 personas, created over a year) and 5 M touches
(views, downloads, shares), a lifecycle with lead/MQL/SQL moves and won deals, then times:

- **baseline**: a bare group-by of the same touch rows (``touches.groupby(["content_id",
  "contact_id"])["at"].min()``: the first touch per item and reader, nothing else);
- **funnel**: ``content_funnel`` for all five stages (validation included);
- **funnel by persona**: the same split by persona (what the SQL list's suggestions read).

Aim: the funnel in ≤ 3 s. Prints each figure (wall and CPU seconds) next to the baseline, best of
``--repeat`` runs.
Develop with ``--scale 0.05``; run full size once:

    .venv/bin/python benchmarks/content.py [--scale 1.0] [--repeat 2]
"""

from __future__ import annotations

import argparse
import pathlib
import sys
import time

_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
sys.path.insert(0, str(_HERE.parent))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from metrics.content import content_funnel  # noqa: E402
from metrics.frames import validate  # noqa: E402

START = pd.Timestamp("2025-01-01", tz="UTC")


def generate(n_items: int, n_contacts: int, n_touches: int, seed: int = 1) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    created = START + pd.to_timedelta(rng.uniform(0, 365, n_contacts) * 86400, unit="s")
    personas = pd.Categorical.from_codes(rng.integers(0, 4, n_contacts), ["CFO", "CTO", "Ops", "Buyer"])
    contacts = pd.DataFrame(
        {
            "contact_id": np.arange(n_contacts, dtype="int64"),
            "owner_rep_id": pd.array(rng.integers(1, 200, n_contacts), dtype="Int64"),
            "persona": pd.Series(personas).astype("str"),
            "company": pd.Series([None] * n_contacts, dtype="str"),
            "lead_source": pd.Series([None] * n_contacts, dtype="str"),
            "lifecycle_stage": "lead",
            "created_at": created,
        }
    )
    c = rng.integers(0, n_contacts, n_touches)
    lag = rng.exponential(20.0, n_touches) * 86400
    touches = pd.DataFrame(
        {
            "touch_id": np.arange(n_touches, dtype="int64"),
            "contact_id": c,
            "content_id": pd.array(rng.integers(1, n_items + 1, n_touches), dtype="Int64"),
            "url": pd.Series([None] * n_touches, dtype="str"),
            "action": pd.Categorical.from_codes(
                rng.choice(3, n_touches, p=[0.75, 0.2, 0.05]), ["view", "download", "share"]
            ),
            "at": created[c] + pd.to_timedelta(lag, unit="s"),
            "seconds": pd.array([pd.NA] * n_touches, dtype="Int64"),
            "channel": pd.Series([None] * n_touches, dtype="str"),
        }
    )
    mql = rng.random(n_contacts) < 0.3
    sql = mql & (rng.random(n_contacts) < 0.4)
    t_mql = rng.exponential(60.0, n_contacts)
    t_sql = t_mql + rng.exponential(20.0, n_contacts)
    ids = np.arange(n_contacts)
    parts = [
        pd.DataFrame({"contact_id": ids, "to_stage": "lead", "at": created}),
        pd.DataFrame(
            {
                "contact_id": ids[mql],
                "to_stage": "mql",
                "at": created[mql] + pd.to_timedelta(t_mql[mql], unit="D"),
            }
        ),
        pd.DataFrame(
            {
                "contact_id": ids[sql],
                "to_stage": "sql",
                "at": created[sql] + pd.to_timedelta(t_sql[sql], unit="D"),
            }
        ),
    ]
    lifecycle = pd.concat(parts, ignore_index=True)
    lifecycle["from_stage"] = pd.Series([None] * len(lifecycle), dtype="str")
    won = ids[sql & (rng.random(n_contacts) < 0.3)]
    closed = created[won] + pd.to_timedelta(t_sql[won] + 45, unit="D")
    deals = pd.DataFrame(
        {
            "deal_id": np.arange(len(won), dtype="int64"),
            "owner_rep_id": 1,
            "contact_id": won,
            "lead_source": pd.Series([None] * len(won), dtype="str"),
            "amount": 100_000,
            "currency": "NOK",
            "stage": "won",
            "created_at": closed - pd.Timedelta(days=30),
            "expected_close": pd.Series(pd.NaT, index=range(len(won)), dtype="datetime64[us]"),
            "closed_at": closed,
            "outcome": "won",
        }
    )
    content = pd.DataFrame(
        {
            "content_id": np.arange(1, n_items + 1, dtype="int64"),
            "title": [f"Item {i}" for i in range(1, n_items + 1)],
            "kind": "guide",
            "buying_phase": np.array(["awareness", "consideration", "decision"])[np.arange(n_items) % 3],
        }
    )
    frames = {
        "contacts": contacts,
        "touches": touches,
        "lifecycle": lifecycle,
        "deals": deals,
        "content": content,
    }
    return {k: validate(v, k) for k, v in frames.items()}


def best(fn, repeat: int) -> tuple[float, float]:  # noqa: ANN001
    """Best of ``repeat`` runs: (wall seconds, CPU seconds of this process). On a shared machine
    the CPU time and the ratio to the baseline say more than the wall time."""
    times = []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append((time.perf_counter() - t0, time.process_time() - c0))
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    n_items, n_contacts, n_touches = (max(10, int(v * args.scale)) for v in (2_000, 500_000, 5_000_000))
    t0 = time.perf_counter()
    org = generate(n_items, n_contacts, n_touches)
    print(
        f"generated {n_items:,} items, {n_contacts:,} contacts, {len(org['touches']):,} touches "
        f"in {time.perf_counter() - t0:.1f} s"
    )
    t = org["touches"]
    base, base_cpu = best(lambda: t.groupby(["content_id", "contact_id"])["at"].min(), args.repeat)
    funnel, funnel_cpu = best(lambda: content_funnel(**org), args.repeat)
    persona, persona_cpu = best(lambda: content_funnel(**org, by_persona=True), args.repeat)
    print(f"{'':52s} {'wall':>8s}  {'× base':>7s}  {'CPU':>7s}  {'× base':>7s}")
    for name, w, c in (
        ("bare group-by (first touch per item and reader)", base, base_cpu),
        ("content_funnel, 5 stages", funnel, funnel_cpu),
        ("content_funnel, 5 stages, by persona", persona, persona_cpu),
    ):
        print(f"{name:52s} {w:6.2f} s  {w / base:6.1f}x  {c:5.2f} s  {c / base_cpu:6.1f}x")
    print(f"aim ≤ 3 s: {'met' if funnel <= 3.0 else 'NOT met'} (wall time on this machine)")


if __name__ == "__main__":
    main()
