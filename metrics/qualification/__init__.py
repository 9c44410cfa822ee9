"""Sales-qualified leads as explicit, versioned rules (research/forecasting.md §4.2).

- :mod:`.rules`: the rule set (fit rules, engagement rules, the gate), checked on load, and its
  reviewable TOML text (export and import).
- :mod:`.scoring`: the fit score F, the engagement score E (decay or window, caps per group,
  "returns within N days"), the gate and the sentence that explains an SQL.
- :mod:`.replay`: what a rule set would have qualified over a past window (the what-if), day by day.
- :mod:`.lift`: SQL→opportunity and SQL→won against all leads, with intervals, per month.
- :mod:`.ranking`: the "Call next" order: a follow-up section and a calibrated ranking.
- :mod:`.synthetic`: a seeded lead population with a known conversion mechanism, for tests.

Everything here is pure (pandas/numpy/scipy), deterministic and free of the app.
"""
