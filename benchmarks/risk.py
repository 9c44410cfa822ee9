"""Benchmark: deal warnings (``flags``) and the SQL rules' what-if replay (``whatif``), issue #13.

Sections (``--only NAME`` runs one):

- **flags**: deal warnings and their lift for 100,000 open deals with a year of history (aim ≤ 2 s)
  (:func:`metrics.risk.current_flags`, 52 weeks of :func:`metrics.risk.history`, the lift table and
  the alert list), next to a bare pandas group-by of the same rows (last activity per deal, quiet
  deals by stage × owner).
- **whatif**: :func:`metrics.qualification.replay.whatif` with the default rules over 500,000
  contacts and 5 M touches (a year of them; the replay walks the last 90 days day by day), aim
  ≤ 10 s; printed next to a bare pandas group-by of the same touches (count per contact and
  action) timed in the same run. Phases: prepare (frame checks, fit, touch events), replay,
  evaluate (outcomes and time-matched base rates).

The flags section also times the deal-health fit on the history rows and its prediction for the
open deals (:func:`metrics.risk.health.fit_health`). ``--before DIR`` times a section with
the code of another checkout too (e.g. ``git worktree add /tmp/before <commit>``), on the same
generated data, old and new alternating ``--repeat`` times in separate processes, and prints them
side by side: on a shared machine only figures from the same run compare.

Not a test; run once at full size (a few GB of memory):

    .venv/bin/python benchmarks/risk.py [--only flags|whatif] [--open 100000] [--contacts 500000 --touches 5000000]
    .venv/bin/python benchmarks/risk.py [--only flags|whatif] --before /tmp/before [--repeat 2]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import pickle
import subprocess
import sys
import tempfile
import time

_HERE = pathlib.Path(__file__).resolve().parent
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != _HERE]
# ``--root DIR`` (set by ``--before``): import the metrics package of that checkout
_ROOT = sys.argv[sys.argv.index("--root") + 1] if "--root" in sys.argv else str(_HERE.parent)
sys.path.insert(0, _ROOT)

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from metrics.frames import build  # noqa: E402
from metrics.qualification import lift as L  # noqa: E402
from metrics.qualification import replay as RP  # noqa: E402
from metrics.qualification import rules as R  # noqa: E402
from metrics.qualification import scoring as S  # noqa: E402
from metrics.qualification.synthetic import CONTENT, INDUSTRIES, PERSONAS  # noqa: E402
from metrics.risk import alert_list, current_flags, history, lift_table, norms  # noqa: E402
from metrics.risk.health import fit_health  # noqa: E402
from metrics.risk.settings import RiskSettings  # noqa: E402
from metrics.risk.synthetic import synthetic_org  # noqa: E402

END = pd.Timestamp("2026-06-30 12:00Z")


def _t(label: str, fn, out: dict):
    t = time.perf_counter()
    value = fn()
    out[label] = time.perf_counter() - t
    return value


def _org(open_deals: int, seed: int):
    # ~9% of a year's deals are open at its end; the rest of the open pipeline is recent deals
    return synthetic_org(seed=seed, n_deals=open_deals, days=365, recent=int(open_deals * 0.95))


def flags(open_deals: int = 100_000, seed: int = 0, org=None, quiet: bool = False) -> dict[str, float]:
    """Flags, lift and health for ``open_deals`` open deals with a year of history; prints and
    returns timings."""
    t = time.perf_counter()
    org = org if org is not None else _org(open_deals, seed)
    gen = time.perf_counter() - t
    n_open = int((org.deals["outcome"] == "open").sum())
    if not quiet:
        print(
            f"org: {len(org.deals):,} deals ({n_open:,} open now), {len(org.activities):,} activities, "
            f"{len(org.deal_stages):,} stage moves, {len(org.deal_changes):,} changes, "
            f"{len(org.touches):,} touches (generated in {gen:.1f} s)"
        )
    s = RiskSettings()
    times: dict[str, float] = {}
    common = dict(
        deals=org.deals,
        deal_stages=org.deal_stages,
        deal_changes=org.deal_changes,
        activities=org.activities,
        touches=org.touches,
        contacts=org.contacts,
        settings=s,
    )
    cpu0 = time.process_time()  # CPU seconds (all threads): less at the mercy of the machine's load
    norm = _t("norms", lambda: norms(org.deals, org.deal_stages, s), times)
    flagged = _t("flags now", lambda: current_flags(now=org.now, norm=norm, **common), times)
    rows = _t("history (52 weeks)", lambda: history(until=org.now, norm=norm, **common), times)
    lift = _t("lift table", lambda: lift_table(rows, s), times)
    _t("alert list", lambda: alert_list(flagged, lift, s.alert_budget), times)
    total = sum(times.values())
    cpu1 = time.process_time()
    health = _t("health fit", lambda: fit_health(rows), times)
    _t("health predict", lambda: health.predict(flagged) if health is not None else None, times)
    cpu2 = time.process_time()

    def baseline():
        acts = org.activities
        last = acts.groupby("deal_id")["at"].max()
        open_ = org.deals[org.deals["outcome"] == "open"]
        quiet = (org.now - last.reindex(open_["deal_id"])) > pd.Timedelta(days=14)
        by = (
            open_.assign(quiet=quiet.to_numpy())
            .groupby(["stage", "owner_rep_id"])["quiet"]
            .agg(["sum", "size"])
        )
        return by

    base: dict[str, float] = {}
    _t("baseline", baseline, base)
    times["flags + lift"] = total
    times["with health"] = sum(v for k, v in times.items() if k != "flags + lift")
    times["flags + lift, CPU"] = cpu1 - cpu0
    times["with health, CPU"] = cpu2 - cpu0
    times["baseline"] = base["baseline"]
    if quiet:
        return times
    print(f"history rows: {len(rows):,} (deal-weeks); open deals flagged now: {len(flagged):,}")
    for k, v in times.items():
        if k not in ("flags + lift", "with health", "baseline") and not k.endswith("CPU"):
            print(f"  {k:<22} {v:6.2f} s")
    print(f"  {'flags + lift (total)':<22} {total:6.2f} s   (aim ≤ 2 s)")
    print(f"  {'... and health':<22} {times['with health']:6.2f} s")
    print(
        f"  {'CPU seconds':<22} {times['flags + lift, CPU']:6.2f} s, with health {times['with health, CPU']:.2f} s"
    )
    print(
        f"  {'bare pandas group-by':<22} {base['baseline']:6.2f} s   (last activity per deal, quiet deals by stage × owner)"
    )
    return times


def bench_flags(args: argparse.Namespace) -> None:
    if args.data:  # a child of --before: time the org the parent generated, print JSON
        with open(args.data, "rb") as f:
            print(json.dumps(flags(org=pickle.load(f), quiet=True)))
    elif args.before:
        org = _org(args.open, args.seed)
        n_open = int((org.deals["outcome"] == "open").sum())
        _before_after("flags", org, f"{len(org.deals):,} deals, {n_open:,} open", args)
    else:
        flags(args.open, args.seed)


def _before_after(section: str, data: object, what: str, args: argparse.Namespace) -> None:
    """Time ``section`` on the same ``data`` with the code of ``args.before`` and of this checkout,
    alternating child processes ``args.repeat`` times; print the best of each side by side."""
    print(f"{section}, before ({args.before}) and after ({_HERE.parent}), same data: {what}")
    runs: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "data.pkl")
        with open(path, "wb") as f:
            pickle.dump(data, f)
        for _ in range(args.repeat):
            for label, root in (("before", args.before), ("after", str(_HERE.parent))):
                cmd = [sys.executable, __file__, "--only", section, "--root", root, "--data", path]
                out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
                runs[label].append(json.loads(out.strip().splitlines()[-1]))
    print(f"  {'best of ' + str(args.repeat) + ' (s)':<22} {'before':>8} {'after':>8}")
    for k in runs["after"][0]:
        b, a = (min(r[k] for r in runs[x]) for x in ("before", "after"))
        print(f"  {k:<22} {b:7.2f}s {a:7.2f}s   {b / a if a else float('nan'):5.1f}×")


def _frames(n_contacts: int, n_touches: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    t_end = END.value / 86_400e9
    ids = np.arange(1, n_contacts + 1)
    pi = rng.integers(len(PERSONAS), size=n_contacts)
    persona = pd.Categorical.from_codes(pi, [p[0] for p in PERSONAS])
    title = pd.Categorical.from_codes(pi, [p[3][0] for p in PERSONAS])
    created = t_end - rng.uniform(0, 365, n_contacts)

    def ts(x: np.ndarray) -> pd.DatetimeIndex:
        return (
            pd.DatetimeIndex(np.round(np.asarray(x) * 86_400).astype("int64").astype("datetime64[s]"))
            .tz_localize("UTC")
            .as_unit("us")
        )

    # built column by column in their canonical dtypes (metrics.frames.build converts element-wise)
    contacts = pd.DataFrame(
        {
            "contact_id": ids,
            "owner_rep_id": pd.array(rng.integers(1, 201, n_contacts), dtype="Int64"),
            "persona": persona,
            "company": pd.Categorical.from_codes(np.full(n_contacts, -1), ["x"]),
            "lead_source": pd.Categorical.from_codes(np.zeros(n_contacts, dtype=int), ["web"]),
            "lifecycle_stage": pd.Categorical.from_codes(np.zeros(n_contacts, dtype=int), ["lead"]),
            "created_at": ts(created),
        }
    ).assign(
        title=title,
        employees=np.round(np.exp(rng.normal(np.log(150), 1.3, n_contacts))),
        industry=pd.Categorical.from_codes(rng.integers(len(INDUSTRIES), size=n_contacts), INDUSTRIES),
    )
    tc = rng.integers(0, n_contacts, n_touches)
    tt = np.maximum(created[tc], t_end - rng.uniform(0, 365, n_touches))
    o = np.argsort(tt, kind="stable")
    tc, tt = tc[o], tt[o]
    kind = rng.integers(len(CONTENT), size=n_touches)
    actions = np.array([c[4] for c in CONTENT])
    touches = pd.DataFrame(
        {
            "touch_id": np.arange(1, n_touches + 1),
            "contact_id": ids[tc],
            "content_id": pd.array(kind + 1, dtype="Int64"),
            "url": pd.Categorical.from_codes(np.full(n_touches, -1), ["x"]),
            "action": pd.Categorical(actions[kind]),
            "at": ts(tt),
            "seconds": pd.array(np.zeros(n_touches, dtype=int), dtype="Int64"),
            "channel": pd.Categorical.from_codes(
                rng.integers(4, size=n_touches), ["web", "email", "ads", "social"]
            ),
        }
    )
    content = build(
        "content",
        content_id=[c[0] for c in CONTENT],
        title=[c[1] for c in CONTENT],
        kind=[c[2] for c in CONTENT],
        buying_phase=[c[3] for c in CONTENT],
    )
    conv = np.flatnonzero(rng.random(n_contacts) < 0.1)
    opp_at = created[conv] + rng.exponential(60, len(conv))
    lifecycle = build(
        "lifecycle",
        contact_id=ids[conv],
        from_stage="lead",
        to_stage="opportunity",
        at=ts(opp_at),
    )
    won = conv[rng.random(len(conv)) < 0.35]
    deals = build(
        "deals",
        deal_id=np.arange(1, len(won) + 1),
        owner_rep_id=1,
        contact_id=ids[won],
        amount=1,
        currency="NOK",
        stage="closed_won",
        created_at=ts(created[won] + 30),
        closed_at=ts(created[won] + 60),
        outcome="won",
    )
    return contacts, touches, content, lifecycle, deals


def bench_whatif(args: argparse.Namespace) -> None:
    if args.data:  # a child of --before: time the frames the parent generated, print JSON
        with open(args.data, "rb") as f:
            print(json.dumps(whatif(*pickle.load(f), quiet=True)))
        return
    t0 = time.perf_counter()
    frames = _frames(args.contacts, args.touches)
    if args.before:
        _before_after("whatif", frames, f"{len(frames[0]):,} contacts, {len(frames[1]):,} touches", args)
        return
    print(
        f"whatif: generated {len(frames[0]):,} contacts, {len(frames[1]):,} touches in {time.perf_counter() - t0:.1f} s"
    )
    whatif(*frames)


def whatif(contacts, touches, content, lifecycle, deals, quiet: bool = False) -> dict[str, float]:
    """Times the default rules' what-if over the last 90 days of the frames, and the group-by."""

    t0 = time.perf_counter()
    base = touches.groupby(["contact_id", "action"], observed=True).size()
    t_base = time.perf_counter() - t0

    rules = R.default_rules()
    cpu0 = time.process_time()
    t0 = time.perf_counter()
    oc = L.outcomes(lifecycle, deals)
    prep = S.prepare(rules, contacts=contacts, touches=touches, content=content, lifecycle=lifecycle)
    t1 = time.perf_counter()
    start = END - pd.Timedelta(days=90)
    sqls = RP.replay(prep, start, END)
    t2 = time.perf_counter()
    w = RP.evaluate(rules.name, prep, sqls, oc, start, END)
    t3 = time.perf_counter()
    total = t3 - t0
    cpu = time.process_time() - cpu0
    times = {"prepare": t1 - t0, "replay": t2 - t1, "evaluate": t3 - t2, "total": total}
    times.update({"total, CPU": cpu, "baseline": t_base})
    if quiet:
        return times
    print(
        f"  baseline: pandas group-by (contact, action).size() of the touches: {t_base:.2f} s ({len(base):,} groups)"
    )
    print(
        f"  what-if total {total:.2f} s (aim ≤ 10 s): prepare {t1 - t0:.2f} s, replay 90 days {t2 - t1:.2f} s, "
        f"evaluate {t3 - t2:.2f} s; {total / t_base:.1f}× the group-by"
    )
    print(
        f"  result: {w.leads:,} leads, {w.sql_count:,} SQLs ({100 * w.share:.1f}%), {w.sql_opps:,} became opportunities, "
        f"{w.sql_wins:,} won"
    )
    return times


SECTIONS = {"flags": bench_flags, "whatif": bench_whatif}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--only", choices=sorted(SECTIONS), help="run one section")
    ap.add_argument("--contacts", type=int, default=500_000)
    ap.add_argument("--touches", type=int, default=5_000_000)
    ap.add_argument("--open", type=int, default=100_000, help="flags: open deals now (about)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--before", help="also time the code of this checkout, on the same data, in the same run")
    ap.add_argument("--repeat", type=int, default=1, help="with --before: alternating runs each")
    ap.add_argument("--root", help=argparse.SUPPRESS)  # the checkout to import (read above)
    ap.add_argument("--data", help=argparse.SUPPRESS)  # pickled data to time (a --before child)
    args = ap.parse_args()
    for name, fn in SECTIONS.items():
        if args.only in (None, name):
            fn(args)


if __name__ == "__main__":
    main()
