"""The SQL rules' what-if pinned to the last digit on generated lead populations, so that a speed-up
cannot change a result unnoticed.

Oracle: the digests below were computed by the implementation before the speed-up (commit
b2bde55) with :func:`outputs` as written here: every array of the prepared events (values, dtype
and order: the replay's sums depend on it), the SQLs the replay makes, the what-if's counts and
lifts, and a score of every contact at the end. When a result is meant to change, recompute the
digests with the new code and say why in the commit.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from metrics.qualification import lift as L
from metrics.qualification import replay as RP
from metrics.qualification import rules as R
from metrics.qualification import scoring as S
from metrics.qualification import synthetic


def digest(value: object) -> str:
    """sha256 (first 16 hex digits) of a frame (values, dtypes, order), an array or a repr."""
    h = hashlib.sha256()
    if isinstance(value, pd.DataFrame):
        h.update(repr([(str(c), str(t)) for c, t in value.dtypes.items()]).encode())
        h.update(pd.util.hash_pandas_object(value, index=True).to_numpy().tobytes())
    elif isinstance(value, np.ndarray) and value.dtype != object:
        h.update(str(value.dtype).encode() + np.ascontiguousarray(value).tobytes())
    else:
        h.update(repr(value.tolist() if isinstance(value, np.ndarray) else value).encode())
    return h.hexdigest()[:16]


def outputs(seed: int, null: bool) -> dict[str, str]:
    p = synthetic.generate(seed, null=null)
    rules = R.default_rules()
    prep = S.prepare(rules, contacts=p.contacts, touches=p.touches, content=p.content, lifecycle=p.lifecycle)
    out = {
        k: digest(v) for k, v in vars(prep).items() if isinstance(v, np.ndarray) or k in ("groups", "attrs")
    }
    out["touches"] = digest([digest(v) for _, v in sorted(prep.touches.items())])
    out["rule_masks"] = digest([(k, digest(v)) for k, v in sorted(prep.rule_masks.items())])
    start = p.end - pd.Timedelta(days=90)
    sqls = RP.replay(prep, start, p.end)
    out["sqls"] = digest(sqls)
    w = RP.evaluate(rules.name, prep, sqls, L.outcomes(p.lifecycle, p.deals), start, p.end)
    out["whatif"] = digest(sorted(w.summary().items()))
    out["score"] = digest(S.score(prep, p.end))
    return out


PINNED = {
    (0, False): {
        "ids": "725fe59c09505409",
        "created": "17a4a8a3980a1dfc",
        "excluded_from": "f96be00c191f8fa8",
        "fit": "4be652b4ecf075c1",
        "grade": "bc65e69669db6837",
        "fit_hits": "774a38dae5c2b6c5",
        "groups": "9f301adccf42c2b7",
        "caps": "9326b8f3d165d7f2",
        "ev_c": "47adb388bcd04892",
        "ev_g": "7200448c54a1f2f0",
        "ev_t": "313992b8dcd70731",
        "ev_p": "3301ae6c092e39d1",
        "hr_c": "b604dd48a293b4a0",
        "hr_t": "46a73ab4699800be",
        "in_c": "aebd4a42323e02c3",
        "in_t": "6643f3a4a11939c4",
        "attrs": "1cbbe2703e58fb9d",
        "content_titles": "cab4fb865357c362",
        "fit_ok": "6c6158abb39ba852",
        "touches": "386f761a7341a7b3",
        "rule_masks": "2370da8ec6d7382e",
        "sqls": "9140365f7c6e43f8",
        "whatif": "19b4ac1db2af8ce8",
        "score": "42cbf17e66307c5c",
    },
    (1, True): {
        "ids": "725fe59c09505409",
        "created": "9cf27c28d4f34bd8",
        "excluded_from": "052c1482b197a13f",
        "fit": "0789fc7c4363b136",
        "grade": "73c9212a98d0f322",
        "fit_hits": "bd437cec180bfc1a",
        "groups": "9f301adccf42c2b7",
        "caps": "9326b8f3d165d7f2",
        "ev_c": "041f6c11fb451a57",
        "ev_g": "f53e8006831543f2",
        "ev_t": "c8e646d4eace6017",
        "ev_p": "03909d923677087b",
        "hr_c": "9392e7ed09464586",
        "hr_t": "1e8378ddf7229927",
        "in_c": "b16d194de857f508",
        "in_t": "b61738a34815bf12",
        "attrs": "6ca2c0949499a0ce",
        "content_titles": "cab4fb865357c362",
        "fit_ok": "2cd07b9f292356e9",
        "touches": "1f798281a31ff57b",
        "rule_masks": "fc705f40887bceb8",
        "sqls": "86087832a204833e",
        "whatif": "2753775f1a303119",
        "score": "78b987a25bced27b",
    },
}


@pytest.mark.parametrize("case", sorted(PINNED))
def test_outputs_are_those_of_the_implementation_before_the_speed_up(case: tuple[int, bool]) -> None:
    assert outputs(*case) == PINNED[case]
