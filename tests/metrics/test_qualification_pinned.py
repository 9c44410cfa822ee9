"""The SQL rules' what-if pinned on generated lead populations, so that a speed-up cannot change a
result unnoticed.

Oracle: the digests below were computed by the implementation before the speed-up (commit
b2bde55) with :func:`outputs` as written here: every array of the prepared events (values, dtype
and order: the replay's sums depend on it), the SQLs the replay makes, the what-if's counts and
lifts, and a score of every contact at the end; floats to 10 significant digits (``0.5 ** x`` may
differ in its last bit on another CPU). On the development machine the outputs were also compared
bit for bit with the old code's, and matched. When a result is meant to change, recompute the
digests with the new code and say why in the commit.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from pinning import hash_frame, plain

from metrics.qualification import lift as L
from metrics.qualification import replay as RP
from metrics.qualification import rules as R
from metrics.qualification import scoring as S
from metrics.qualification import synthetic


def digest(value: object) -> str:
    """sha256 (first 16 hex digits) of a frame (values, dtypes, order), an array or a value,
    floats to 10 significant digits (:func:`pinning.plain`)."""
    h = hashlib.sha256()
    if isinstance(value, pd.DataFrame):
        hash_frame(h, value)
    elif isinstance(value, np.ndarray) and value.dtype.kind not in "fO":
        h.update(str(value.dtype).encode() + np.ascontiguousarray(value).tobytes())
    elif isinstance(value, np.ndarray):
        h.update(str(value.dtype).encode() + repr(plain(value)).encode())
    else:
        h.update(repr(plain(value)).encode())
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
        "created": "aa7563329a861b53",
        "excluded_from": "06636a208fe7be81",
        "fit": "e7117fd2246797ff",
        "grade": "bc65e69669db6837",
        "fit_hits": "774a38dae5c2b6c5",
        "groups": "9f301adccf42c2b7",
        "caps": "cc964373ec7894e9",
        "ev_c": "47adb388bcd04892",
        "ev_g": "7200448c54a1f2f0",
        "ev_t": "f207f4ea065aa2f2",
        "ev_p": "3b4316c1d8a14223",
        "hr_c": "b604dd48a293b4a0",
        "hr_t": "5cc981a0ada0595a",
        "in_c": "aebd4a42323e02c3",
        "in_t": "9b851c8069f9d5ba",
        "attrs": "fa6200ff15e24aac",
        "content_titles": "a4418cd1ce536b62",
        "fit_ok": "6c6158abb39ba852",
        "touches": "1a9f1131e76f97f6",
        "rule_masks": "2370da8ec6d7382e",
        "sqls": "3dfd0a2e4370af83",
        "whatif": "ed9dde151ca1ce87",
        "score": "1a7cf7797439646a",
    },
    (1, True): {
        "ids": "725fe59c09505409",
        "created": "72c7752e799c3fad",
        "excluded_from": "f9cb80e8e0a4f36a",
        "fit": "faa60d73f9fa1242",
        "grade": "73c9212a98d0f322",
        "fit_hits": "bd437cec180bfc1a",
        "groups": "9f301adccf42c2b7",
        "caps": "cc964373ec7894e9",
        "ev_c": "041f6c11fb451a57",
        "ev_g": "f53e8006831543f2",
        "ev_t": "1fff6deea56b1b5c",
        "ev_p": "52b985030decd8f7",
        "hr_c": "9392e7ed09464586",
        "hr_t": "40383628bb5326c1",
        "in_c": "b16d194de857f508",
        "in_t": "312a2bf7803a6f02",
        "attrs": "cfe408372e8ed9ce",
        "content_titles": "a4418cd1ce536b62",
        "fit_ok": "2cd07b9f292356e9",
        "touches": "c0b15e139b320430",
        "rule_masks": "fc705f40887bceb8",
        "sqls": "848e1e6f376455d4",
        "whatif": "dde210e1a1f4d3ae",
        "score": "dbfa256d2e1995e2",
    },
}


@pytest.mark.parametrize("case", sorted(PINNED))
def test_outputs_are_those_of_the_implementation_before_the_speed_up(case: tuple[int, bool]) -> None:
    assert outputs(*case) == PINNED[case]
