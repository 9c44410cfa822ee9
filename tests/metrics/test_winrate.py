"""Tests for metrics.winrate: shrinkage, prior fit, two-rate comparison, joint test."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import optimize, special, stats

from metrics.winrate import (
    FALLBACK_PRIOR_STRENGTH,
    MAX_PRIOR_STRENGTH,
    BetaPrior,
    compare_rates,
    fit_beta_prior,
    joint_difference_test,
    shrink_rates,
)

# ------------------------------------------------------------------------------------------
# shrink_rates: hand-worked with a fixed prior


def test_shrink_fixed_prior_hand_worked():
    reps = pd.DataFrame({"rep_id": [1, 2, 3], "won": [3, 0, 10], "closed": [4, 0, 10]})
    out = shrink_rates(reps, "won", "closed", level=0.90, prior=(2, 8))
    # rep 1: (3 + 2) / (4 + 2 + 8) = 5/14
    assert out.loc[0, "shrunk"] == pytest.approx(5 / 14)  # 0.357142...
    assert out.loc[0, "raw"] == 0.75
    # posterior Beta(3 + 2, 1 + 8): interval from scipy.stats.beta.ppf
    assert out.loc[0, "lo"] == pytest.approx(stats.beta.ppf(0.05, 5, 9))  # 0.1657...
    assert out.loc[0, "hi"] == pytest.approx(stats.beta.ppf(0.95, 5, 9))  # 0.5726...
    assert out.loc[0, "lo"] == pytest.approx(0.1657, abs=1e-4)
    # rep 2: no trials -> no rate at all (never the prior mean shown as the rep's number)
    assert out.loc[1, ["raw", "shrunk", "lo", "hi"]].isna().all()
    # rep 3: (10 + 2) / (10 + 10) = 0.6
    assert out.loc[2, "shrunk"] == pytest.approx(0.6)
    assert (out["prior_mean"] == 0.2).all()
    assert (out["prior_strength"] == 10).all()
    assert out["n"].tolist() == [4, 0, 10]
    # input untouched, columns added
    assert list(reps.columns) == ["rep_id", "won", "closed"]
    assert list(out.columns[-7:]) == [
        "n",
        "raw",
        "shrunk",
        "lo",
        "hi",
        "prior_mean",
        "prior_strength",
    ]


def test_shrink_level_changes_interval_width():
    reps = pd.DataFrame({"won": [5], "closed": [12]})
    narrow = shrink_rates(reps, "won", "closed", level=0.5, prior=BetaPrior(3, 7))
    wide = shrink_rates(reps, "won", "closed", level=0.99, prior=BetaPrior(3, 7))
    # posterior Beta(5 + 3, 7 + 7)
    assert narrow.loc[0, "lo"] == pytest.approx(stats.beta.ppf(0.25, 8, 14))
    assert wide.loc[0, "hi"] == pytest.approx(stats.beta.ppf(0.995, 8, 14))
    assert wide.loc[0, "hi"] - wide.loc[0, "lo"] > narrow.loc[0, "hi"] - narrow.loc[0, "lo"]


def test_shrink_missing_counts_are_zero_trials():
    reps = pd.DataFrame({"won": [np.nan, 2.0], "closed": [np.nan, 4.0]})
    out = shrink_rates(reps, "won", "closed", prior=(1, 1))
    assert out["n"].tolist() == [0, 4]
    assert math.isnan(out.loc[0, "shrunk"])
    assert out.loc[1, "shrunk"] == pytest.approx(3 / 6)  # (2 + 1) / (4 + 2)


@pytest.mark.parametrize(
    ("won", "closed", "message"),
    [
        ([5], [4], "exceeds"),
        ([-1], [4], "negative"),
        ([1.5], [4], "whole"),
    ],
)
def test_shrink_rejects_bad_counts(won, closed, message):
    with pytest.raises(ValueError, match=message):
        shrink_rates(pd.DataFrame({"won": won, "closed": closed}), "won", "closed")


def test_shrink_missing_column_is_named():
    with pytest.raises(ValueError, match="'closed'"):
        shrink_rates(pd.DataFrame({"won": [1]}), "won", "closed")
    with pytest.raises(ValueError, match="population"):
        shrink_rates(pd.DataFrame({"won": [1], "closed": [2]}), "won", "closed", population=[True, False])


def test_shrink_empty_frame():
    out = shrink_rates(pd.DataFrame({"won": [], "closed": []}), "won", "closed")
    assert len(out) == 0
    assert "shrunk" in out.columns


# ------------------------------------------------------------------------------------------
# fit_beta_prior


def _oracle_fit(s, n):
    """Independent posterior mode: Nelder-Mead on (log α, log β) of
    Σ scipy.stats.betabinom.logpmf(s, n, α, β) − ½ log(α + β) (prior κ^(−3/2), mode in log κ)."""

    def nll(theta):
        a, b = np.exp(theta)
        return -np.sum(stats.betabinom.logpmf(s, n, a, b)) + 0.5 * np.log(a + b)

    res = optimize.minimize(
        nll, x0=[0.0, 1.0], method="Nelder-Mead", options={"xatol": 1e-9, "fatol": 1e-10, "maxiter": 4000}
    )
    return np.exp(res.x), -res.fun


def _objective(s, n, prior):
    return np.sum(stats.betabinom.logpmf(s, n, prior.alpha, prior.beta)) - 0.5 * np.log(prior.strength)


def test_fit_matches_independent_optimiser():
    rng = np.random.default_rng(7)
    p = rng.beta(4, 9, size=60)
    n = rng.integers(3, 40, size=60)
    s = rng.binomial(n, p)
    prior = fit_beta_prior(s, n)
    (a_hat, b_hat), best = _oracle_fit(s, n)
    assert prior.method == "map"
    assert _objective(s, n, prior) >= best - 1e-6
    assert prior.alpha == pytest.approx(a_hat, rel=1e-3)
    assert prior.beta == pytest.approx(b_hat, rel=1e-3)


def test_fit_recovers_known_prior_on_large_org():
    rng = np.random.default_rng(3)
    p = rng.beta(6, 14, size=3000)  # mean 0.3, strength 20
    n = rng.integers(5, 80, size=3000)
    prior = fit_beta_prior(rng.binomial(n, p), n)
    assert prior.mean == pytest.approx(0.3, abs=0.01)
    assert prior.strength == pytest.approx(20, rel=0.2)


def test_fit_at_the_boundary_stays_finite_and_matches_the_oracle():
    # every rep exactly 3 of 10: no spread beyond chance at all. The likelihood alone rises
    # for ever (the old fit hit its cap of 1000); the prior on the strength stops it.
    s, n = np.full(12, 3), np.full(12, 10)
    prior = fit_beta_prior(s, n)
    (a_hat, b_hat), best = _oracle_fit(s, n)
    assert prior.method == "map"
    assert prior.mean == pytest.approx(0.3, abs=0.005)
    assert prior.strength < MAX_PRIOR_STRENGTH
    assert _objective(s, n, prior) >= best - 1e-6
    assert prior.strength == pytest.approx(a_hat + b_hat, rel=1e-2)


def test_fit_fallback_with_few_rows():
    # 2 rows with trials (the 0-trial row carries nothing): pooled (3 + 0.5)/(6 + 1) = 0.5
    prior = fit_beta_prior([1, 2, 0], [2, 4, 0])
    assert prior.method == "fallback"
    assert prior.rows == 2
    assert prior.mean == pytest.approx(3.5 / 7)
    assert prior.strength == FALLBACK_PRIOR_STRENGTH


def test_fit_all_wins_stays_inside_unit_interval():
    prior = fit_beta_prior(np.full(8, 5), np.full(8, 5))
    assert 0 < prior.mean < 1
    assert prior.alpha > 0 and prior.beta > 0


def test_reps_with_different_records_get_different_adjusted_rates():
    # the demo org's complaint: 6 of 9 and 0 of 5 both showed 35%. An org of 30 reps whose win
    # rates do not differ beyond chance (all drawn at 35%).
    rng = np.random.default_rng(5)
    n = rng.integers(3, 15, size=30)
    won = rng.binomial(n, 0.35)
    won[:2], n[:2] = [6, 0], [9, 5]
    out = shrink_rates(pd.DataFrame({"won": won, "closed": n}), "won", "closed")
    six_of_nine, none_of_five = out.loc[0, "shrunk"], out.loc[1, "shrunk"]
    prior = out.loc[0, "prior_mean"]
    assert none_of_five < prior < six_of_nine
    assert round(six_of_nine * 100) - round(none_of_five * 100) >= 3  # shown as different percentages
    # every distinct record has its own adjusted rate
    distinct = out.drop_duplicates(["won", "closed"])
    assert distinct["shrunk"].round(9).nunique() == len(distinct)


def test_population_fits_the_prior_on_its_rows_and_shrinks_every_row():
    # managers (last two rows) with extreme records must not move the reps' prior
    reps = pd.DataFrame({"won": [3, 4, 5, 2, 3, 4, 20, 0], "closed": [10] * 6 + [20, 20]})
    mask = np.array([True] * 6 + [False] * 2)
    out = shrink_rates(reps, "won", "closed", population=mask)
    alone = fit_beta_prior(reps.won[:6], reps.closed[:6])
    assert out["prior_mean"].iloc[0] == pytest.approx(alone.mean)
    assert out["prior_strength"].iloc[-1] == pytest.approx(alone.strength)
    assert out.loc[6, "shrunk"] == pytest.approx((20 + alone.alpha) / (20 + alone.strength))


def test_adjusted_rates_shrink_toward_the_org_not_the_team():
    """Planted truth: 5 teams of 7 reps, every rep's true rate drawn from one org-wide Beta(6, 14)
    (no team effect). The adjusted rate of every rep is the closed form (s + α)/(n + α + β) with
    (α, β) from the independent optimiser on *all* reps, so a small team's reps are pulled toward
    the org (30%), not onto their own team's mean; and the adjustment lowers the error."""
    raw_err, adj_err, team_pull = [], [], []
    for seed in range(60):
        rng = np.random.default_rng(100 + seed)
        team = np.repeat(np.arange(5), 7)
        truth = rng.beta(6, 14, size=35)
        n = rng.integers(2, 25, size=35)
        frame = pd.DataFrame({"team": team, "won": rng.binomial(n, truth), "closed": n})
        out = shrink_rates(frame, "won", "closed")
        if seed < 5:  # the oracle is slow: check the closed form on a few orgs
            (a, b), _ = _oracle_fit(frame.won.to_numpy(), n)
            expected = (frame.won + a) / (n + a + b)
            assert np.allclose(out["shrunk"], expected, atol=2e-4)
        assert out["prior_mean"].nunique() == 1  # one prior for the whole org
        raw_err.extend((out["raw"] - truth) ** 2)
        adj_err.extend((out["shrunk"] - truth) ** 2)
        team_mean = frame.groupby("team").won.transform("sum") / frame.groupby("team").closed.transform("sum")
        org = out["prior_mean"].iloc[0]
        # distance of the adjusted rate from the org mean vs from the team mean
        team_pull.append(np.mean(np.abs(out["shrunk"] - org) < np.abs(out["shrunk"] - team_mean)))
    assert np.mean(adj_err) < 0.6 * np.mean(raw_err)
    assert np.mean(team_pull) > 0.5


# ------------------------------------------------------------------------------------------
# properties

_rows = st.lists(
    st.integers(min_value=0, max_value=60).flatmap(
        lambda n: st.tuples(st.integers(min_value=0, max_value=n), st.just(n))
    ),
    min_size=1,
    max_size=25,
)


@settings(deadline=None, max_examples=60)
@given(rows=_rows, level=st.floats(min_value=0.5, max_value=0.99))
def test_shrunk_between_raw_and_prior_and_inside_interval(rows, level):
    reps = pd.DataFrame(rows, columns=["won", "closed"])
    out = shrink_rates(reps, "won", "closed", level=level)
    tol = 1e-12
    has = out["n"] > 0
    lo_bound = np.minimum(out["raw"], out["prior_mean"])
    hi_bound = np.maximum(out["raw"], out["prior_mean"])
    assert (out.loc[has, "shrunk"] >= lo_bound[has] - tol).all()
    assert (out.loc[has, "shrunk"] <= hi_bound[has] + tol).all()
    assert out.loc[~has, ["raw", "shrunk", "lo", "hi"]].isna().all().all()
    out = out[has]
    assert (out["lo"] <= out["shrunk"] + tol).all()
    assert (out["shrunk"] <= out["hi"] + tol).all()
    assert ((out["lo"] >= 0) & (out["hi"] <= 1)).all()


# ------------------------------------------------------------------------------------------
# simulation: shrinkage beats raw rates for small samples; joint test holds its size


def test_shrinkage_lowers_error_for_small_samples():
    raw_err, shrunk_err = [], []
    for seed in range(200):
        rng = np.random.default_rng(seed)
        truth = rng.beta(6, 14, size=20)
        n = rng.integers(1, 40, size=20)
        reps = pd.DataFrame({"won": rng.binomial(n, truth), "closed": n})
        out = shrink_rates(reps, "won", "closed")
        small = (n <= 10).nonzero()[0]
        raw_err.extend((out["raw"].to_numpy()[small] - truth[small]) ** 2)
        shrunk_err.extend((out["shrunk"].to_numpy()[small] - truth[small]) ** 2)
    assert len(raw_err) > 500
    assert np.mean(shrunk_err) < 0.6 * np.mean(raw_err)


def test_joint_test_false_positive_rate_when_all_reps_share_one_rate():
    claims = 0
    for seed in range(400):
        rng = np.random.default_rng(10_000 + seed)
        n = rng.integers(3, 40, size=20)
        reps = pd.DataFrame({"won": rng.binomial(n, 0.3), "closed": n})
        result = joint_difference_test(reps, "won", "closed", n_resamples=999, seed=seed)
        claims += result.established
    assert claims / 400 <= 0.08


def test_joint_test_detects_real_differences():
    found = 0
    for seed in range(50):
        rng = np.random.default_rng(seed)
        n = np.full(20, 30)
        truth = rng.beta(3, 7, size=20)  # wide spread of true rates
        reps = pd.DataFrame({"won": rng.binomial(n, truth), "closed": n})
        found += joint_difference_test(reps, "won", "closed", n_resamples=999).established
    assert found >= 45


# ------------------------------------------------------------------------------------------
# compare_rates


def _prob_b_beats_a_exact(a_a, b_a, a_b, b_b):
    """Evan Miller's closed form for P(p_B > p_A), integer α_B."""
    total = 0.0
    for i in range(int(a_b)):
        total += math.exp(
            special.betaln(a_a + i, b_a + b_b)
            - math.log(b_b + i)
            - special.betaln(1 + i, b_b)
            - special.betaln(a_a, b_a)
        )
    return total


def test_compare_fisher_and_posterior_against_oracles():
    r = compare_rates(18, 25, 9, 30)
    assert r.a_rate == 0.72 and r.b_rate == 0.3
    assert r.difference == pytest.approx(0.42)
    fisher = stats.fisher_exact([[18, 7], [9, 21]])
    assert r.p_value == pytest.approx(fisher.pvalue)
    assert r.statistic == pytest.approx(fisher.statistic)  # (18·21)/(7·9) = 6.0
    assert r.statistic == pytest.approx(6.0)
    # uniform prior: posteriors Beta(19, 8) and Beta(10, 22); P(A > B) = 1 − P(B > A)
    exact = 1 - _prob_b_beats_a_exact(19, 8, 10, 22)
    assert r.prob_a_greater == pytest.approx(exact, abs=1e-4)
    assert r.a_posterior_mean == pytest.approx(19 / 27)


def test_compare_posterior_against_monte_carlo_with_fitted_prior():
    prior = BetaPrior(4.5, 10.5)
    r = compare_rates(1, 1, 18, 25, prior=prior)
    rng = np.random.default_rng(0)
    a = rng.beta(1 + 4.5, 0 + 10.5, size=400_000)
    b = rng.beta(18 + 4.5, 7 + 10.5, size=400_000)
    assert r.prob_a_greater == pytest.approx(np.mean(a > b), abs=0.005)
    assert r.prob_a_greater < 0.2  # 1 for 1 is no evidence against 18 of 25


def test_compare_z_test_hand_worked():
    r = compare_rates(18, 25, 9, 30, test="z")
    pooled = 27 / 55  # (18 + 9)/(25 + 30)
    se = math.sqrt(pooled * (1 - pooled) * (1 / 25 + 1 / 30))  # 0.13537...
    z = (0.72 - 0.30) / se  # 3.1025...
    assert r.statistic == pytest.approx(z)
    assert r.statistic == pytest.approx(3.1025, abs=1e-3)
    assert r.p_value == pytest.approx(2 * stats.norm.sf(z))


def test_compare_edge_cases():
    none = compare_rates(0, 0, 3, 5)
    assert math.isnan(none.p_value) and math.isnan(none.a_rate)
    assert 0 < none.prob_a_greater < 1
    same = compare_rates(4, 4, 6, 6, test="z")
    assert same.p_value == 1.0
    symmetric = compare_rates(5, 10, 5, 10)
    assert symmetric.prob_a_greater == pytest.approx(0.5, abs=1e-4)
    with pytest.raises(ValueError, match="test"):
        compare_rates(1, 2, 1, 2, test="t")
    with pytest.raises(ValueError, match="exceeds"):
        compare_rates(3, 2, 1, 2)


# ------------------------------------------------------------------------------------------
# joint_difference_test


def test_joint_chi2_hand_worked_and_scipy():
    reps = pd.DataFrame({"won": [30, 10, 20], "closed": [50, 50, 50]})
    t = joint_difference_test(reps, "won", "closed")
    # pooled 60/150 = 0.4: expected 20 won, 30 lost per row
    # (30−20)²/20 + (20−30)²/30 + (10−20)²/20 + (40−30)²/30 + 0 + 0 = 5 + 10/3 + 5 + 10/3
    assert t.statistic == pytest.approx(16 + 2 / 3)
    chi2, p, dof, _ = stats.chi2_contingency([[30, 20], [10, 40], [20, 30]], correction=False)
    assert t.statistic == pytest.approx(chi2)
    assert t.p_value == pytest.approx(p)  # = exp(−16.667/2) for dof 2
    assert t.p_value == pytest.approx(math.exp(-(16 + 2 / 3) / 2))
    assert t.dof == dof == 2
    assert t.method == "chi2" and t.established
    assert t.min_expected == 20


def _exact_permutation_p(won, closed):
    """Enumerate every table with the margins fixed (multivariate hypergeometric)."""
    won, closed = np.asarray(won), np.asarray(closed)
    total_s, total_n = won.sum(), closed.sum()

    def stat(x):
        x = np.asarray(x, dtype=float)
        dev = x - closed * total_s / total_n
        return total_n**2 / (total_s * (total_n - total_s)) * np.sum(dev**2 / closed)

    observed = stat(won)
    p = 0.0
    for x in itertools.product(*(range(c + 1) for c in closed)):
        if sum(x) != total_s:
            continue
        prob = np.prod([math.comb(int(c), k) for c, k in zip(closed, x, strict=True)])
        prob /= math.comb(int(total_n), int(total_s))
        if stat(x) >= observed - 1e-9:
            p += prob
    return p


def test_joint_permutation_for_small_counts_matches_exact_enumeration():
    reps = pd.DataFrame({"won": [3, 0, 1, 4], "closed": [3, 4, 5, 6]})
    t = joint_difference_test(reps, "won", "closed", n_resamples=20_000, seed=1)
    assert t.method == "permutation"
    assert t.min_expected < 5
    exact = _exact_permutation_p([3, 0, 1, 4], [3, 4, 5, 6])
    assert t.p_value == pytest.approx(exact, abs=0.01)
    again = joint_difference_test(reps, "won", "closed", n_resamples=20_000, seed=1)
    assert again == t  # deterministic for a fixed seed


def test_joint_nothing_to_test():
    one = joint_difference_test(pd.DataFrame({"w": [3, 0], "n": [5, 0]}), "w", "n")
    assert one.method == "none" and one.p_value == 1.0 and not one.established
    no_wins = joint_difference_test(pd.DataFrame({"w": [0, 0], "n": [5, 7]}), "w", "n")
    assert no_wins.method == "none" and no_wins.groups == 2


def test_joint_forced_methods_and_errors():
    reps = pd.DataFrame({"won": [30, 10, 20], "closed": [50, 50, 50]})
    perm = joint_difference_test(reps, "won", "closed", method="permutation", n_resamples=999)
    assert perm.method == "permutation" and perm.p_value == pytest.approx(1 / 1000)
    with pytest.raises(ValueError, match="method"):
        joint_difference_test(reps, "won", "closed", method="exact")


def test_joint_test_uses_permutations_when_1000_reps_have_few_deals_each():
    rng = np.random.default_rng(0)
    n = rng.integers(0, 8, size=1000)
    reps = pd.DataFrame({"won": rng.binomial(n, 0.3), "closed": n})
    result = joint_difference_test(reps, "won", "closed")
    assert result.method == "permutation"
    assert not result.established  # one true rate for all: no difference to find


def test_objective_equals_scipy_betabinom_and_the_prior_up_to_a_constant():
    from metrics.winrate import MIN_PRIOR_SHAPE, _neg_loglik

    s, n = np.array([0.0, 3, 7, 2]), np.array([4.0, 9, 7, 2])
    w = np.ones(4)
    diffs = []
    for a, b in [(1.0, 3.0), (0.7, 12.0), (40.0, 25.0)]:
        theta = np.log([a - MIN_PRIOR_SHAPE, b - MIN_PRIOR_SHAPE])
        ours = -_neg_loglik(theta, s, n, w)[0]
        # the objective is the log-likelihood minus the strength prior's ½ log(α + β)
        diffs.append(ours + 0.5 * np.log(a + b) - np.sum(stats.betabinom.logpmf(s, n, a, b)))
        grad = optimize.approx_fprime(theta, lambda th: _neg_loglik(th, s, n, w)[0], 1e-7)
        assert _neg_loglik(theta, s, n, w)[1] == pytest.approx(grad, rel=1e-4, abs=1e-4)
    assert np.ptp(diffs) < 1e-9  # the constant Σ log C(n, s)
    assert diffs[0] == pytest.approx(-np.sum(np.log([1, 84, 1, 1])))  # −log C(9, 3) = −log 84
