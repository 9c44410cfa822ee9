"""The stat catalogue: every stat Matchday shows, declared once.

A :class:`StatDef` says what a stat is (its key and the :func:`metrics.stats.match_stats` column
that holds it), how people read it (label, unit, which direction is better, a one-line
definition), what it rests on (the sample column and the minimum below which it is provisional or
unranked), the family of :data:`metrics.stats.FAMILIES` that computes it, and where it appears: on
the card's scouting table (``card_group``), as a rank-able board stat (``board``), and which rating
face it feeds (``face``, for :mod:`metrics.rating`). Boards, cards, charts, formatters and the docs
read :data:`CATALOGUE`; nothing else declares a label, a unit, a direction or a minimum sample.

A stat whose sample is empty (``n = 0``: no closed deals, no calls, no leads) has no value: it is
shown as "—" with :attr:`StatDef.no_value`, left out of ranks, percentiles and the rating.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from types import MappingProxyType

__all__ = ["CATALOGUE", "StatDef", "stat", "board_stats", "card_stats", "face_stats", "markdown_table"]

#: Units a stat can have: ``count`` (whole events), ``per_day`` (events per working day),
#: ``money`` (minor units), ``money_per_day``, ``rate`` (0–1), ``hours``, ``points``.
UNITS = ("count", "per_day", "money", "money_per_day", "rate", "hours", "points")
#: The card's scouting-table groups, in order (FBref's Activity · Creation · Progression · Finishing).
CARD_GROUPS = ("Activity", "Creation", "Progression", "Finishing")


@dataclass(frozen=True)
class StatDef:
    """One stat, as everything that shows it reads it.

    Attributes
    ----------
    key : str
        The stat's name on boards, in URLs and in the API.
    column : str
        The :func:`metrics.stats.match_stats` column holding the value shown.
    label : str
        What people read ("Win rate, adjusted for sample size"); never "shrunk".
    unit : str
        One of :data:`UNITS`.
    better : str
        ``"higher"`` or ``"lower"``: the direction of every ranking of this stat.
    sample : str
        Column of the sample the stat rests on (``working_days``, ``win_rate_n``...).
    minimum : int
        Below this sample the stat is provisional on a card and unranked on a board.
    sample_label : str
        The sample's unit for people ("closed deals").
    family : str
        The :data:`metrics.stats.FAMILIES` member that computes the column.
    definition : str
        One line: the formula in words.
    no_value : str
        Why there is no value when the sample is empty ("no closed deals in this period").
    card_group : str or None
        The card's scouting-table group (:data:`CARD_GROUPS`), None when not on the card.
    board : bool
        Whether a board may rank it.
    face : str or None
        The rating face it feeds (:data:`metrics.rating.FACE_STATS`), if any.
    interval : tuple of (str, str) or None
        Columns of the lower and upper end of its interval (adjusted rates).
    raw : tuple of (str, str) or None
        ``(successes, trials)`` columns behind a rate, shown beside it ("6/9").

    Examples
    --------
    >>> s = stat("win_rate")
    >>> s.column, s.better, s.sample, s.minimum, s.face
    ('win_rate_shrunk', 'higher', 'win_rate_n', 10, None)
    >>> s.lower_is_better, stat("speed_to_lead_hours").lower_is_better
    (False, True)
    """

    key: str
    column: str
    label: str
    unit: str
    better: str
    sample: str
    minimum: int
    sample_label: str
    family: str
    definition: str
    no_value: str = ""
    card_group: str | None = None
    board: bool = True
    face: str | None = None
    interval: tuple[str, str] | None = None
    raw: tuple[str, str] | None = None

    def __post_init__(self) -> None:
        if self.unit not in UNITS:
            raise ValueError(f"stat {self.key!r}: unit must be one of {UNITS}")
        if self.better not in ("higher", "lower"):
            raise ValueError(f"stat {self.key!r}: better must be 'higher' or 'lower'")
        if self.card_group is not None and self.card_group not in CARD_GROUPS:
            raise ValueError(f"stat {self.key!r}: card_group must be one of {CARD_GROUPS}")

    @property
    def lower_is_better(self) -> bool:
        """True when a lower value ranks first (``better == "lower"``)."""
        return self.better == "lower"


_DAYS = ("working_days", 20, "working days")
_NO_DAYS = "no working days played in this period"
#: Why an activity rate per day has no value (:data:`metrics.stats.ACTIVITY_PER_DAY`).
_NO_ACTIVITY = "no working days played, or nobody in the org logged an activity in this period"


def _per_day(
    key: str, label: str, family: str, definition: str, no_value: str = _NO_DAYS, **more: object
) -> StatDef:
    return StatDef(
        key,
        key,
        label,
        "per_day",
        "higher",
        *_DAYS,
        family,
        definition,
        no_value,
        **more,  # type: ignore[arg-type]
    )


_STATS = (
    # -- counts: boards of the floor
    StatDef(
        "revenue_won",
        "revenue_won",
        "Revenue won",
        "money",
        "higher",
        *_DAYS,
        "deal_flow",
        "sum of the amounts of deals closed won in the period",
    ),
    StatDef(
        "wins", "wins", "Deals won", "count", "higher", *_DAYS, "deal_flow", "deals closed won in the period"
    ),
    StatDef(
        "meetings_booked",
        "meetings_booked",
        "Meetings booked",
        "count",
        "higher",
        *_DAYS,
        "activity",
        "meetings and demos logged in the period",
    ),
    StatDef(
        "activities",
        "activities",
        "Activities",
        "count",
        "higher",
        *_DAYS,
        "activity",
        "activities of every kind logged in the period",
    ),
    StatDef(
        "connects",
        "connects",
        "Connected calls",
        "count",
        "higher",
        *_DAYS,
        "activity",
        "calls with outcome 'connected'",
    ),
    StatDef(
        "opportunities",
        "opportunities",
        "Opportunities created",
        "count",
        "higher",
        *_DAYS,
        "deal_flow",
        "deals created in the period",
    ),
    StatDef(
        "proposals",
        "proposals",
        "Proposals",
        "count",
        "higher",
        *_DAYS,
        "deal_flow",
        "deals first reaching proposal or beyond in the period",
    ),
    StatDef(
        "xpipe",
        "xpipe",
        "Weighted pipeline (xPipe)",
        "money",
        "higher",
        *_DAYS,
        "pipeline",
        "sum over open deals of amount × the stage's win probability (no open deals: 0)",
        _NO_DAYS,
        face="progression",
    ),
    StatDef(
        "content_assists",
        "content_assists",
        "Content assists",
        "count",
        "higher",
        "content_assists_n",
        1,
        "wins",
        "content",
        "won deals whose buyer read content the rep had shared",
        "no deals won in this period",
    ),
    StatDef(
        "attainment",
        "attainment",
        "Quota attainment",
        "rate",
        "higher",
        *_DAYS,
        "quota",
        "revenue won ÷ the period's quota",
        "no quota set for this period",
    ),
    StatDef(
        "pace",
        "pace",
        "Pace vs quota",
        "money",
        "higher",
        *_DAYS,
        "quota",
        "revenue won − quota × the share of the period's working days elapsed",
        "no quota set for this period",
    ),
    # -- per working day: the card's "per 90"
    _per_day(
        "activities_per_day",
        "Activities per day",
        "activity",
        "activities ÷ working days played",
        card_group="Activity",
        face="work_rate",
        no_value=_NO_ACTIVITY,
    ),
    _per_day(
        "activities_call_per_day",
        "Calls per day",
        "activity",
        "calls ÷ working days played",
        card_group="Activity",
        board=False,
        no_value=_NO_ACTIVITY,
    ),
    _per_day(
        "meetings_booked_per_day",
        "Meetings booked per day",
        "activity",
        "meetings and demos ÷ working days played",
        card_group="Creation",
        face="creation",
        board=False,
        no_value=_NO_ACTIVITY,
    ),
    _per_day(
        "opportunities_per_day",
        "Opportunities created per day",
        "deal_flow",
        "deals created ÷ working days played",
        card_group="Creation",
        board=False,
    ),
    _per_day(
        "content_shares_per_day",
        "Content shared per day",
        "activity",
        "content shares ÷ working days played",
        card_group="Creation",
        board=False,
        no_value=_NO_ACTIVITY,
    ),
    _per_day(
        "stage_advances_per_day",
        "Stage advances per day",
        "deal_flow",
        "forward deal-stage moves ÷ working days played",
        card_group="Progression",
        board=False,
    ),
    _per_day(
        "proposals_per_day",
        "Proposals per day",
        "deal_flow",
        "deals reaching proposal ÷ working days played",
        card_group="Progression",
        board=False,
    ),
    StatDef(
        "revenue_won_per_day",
        "revenue_won_per_day",
        "Revenue won per day",
        "money_per_day",
        "higher",
        *_DAYS,
        "deal_flow",
        "revenue won ÷ working days played",
        _NO_DAYS,
        card_group="Finishing",
        face="finishing",
        board=False,
    ),
    # -- rates and times: each rests on its own sample
    StatDef(
        "connect_rate",
        "connect_rate",
        "Connect rate",
        "rate",
        "higher",
        "connect_rate_n",
        30,
        "calls",
        "activity",
        "connected calls ÷ calls",
        "no calls in this period",
        card_group="Activity",
        raw=("connects", "connect_rate_n"),
    ),
    StatDef(
        "speed_to_lead_hours",
        "speed_to_lead_hours",
        "Speed to lead",
        "hours",
        "lower",
        "speed_to_lead_n",
        5,
        "leads",
        "speed_to_lead",
        "median hours from a contact becoming SQL to the owner's first activity on it",
        "no new SQLs in this period",
        card_group="Creation",
        face="pressing",
    ),
    StatDef(
        "pipeline_hygiene",
        "pipeline_hygiene",
        "Pipeline hygiene",
        "rate",
        "higher",
        "open_deals",
        5,
        "open deals",
        "hygiene",
        "share of open deals neither stale, overdue nor slipped",
        "no open deals",
        card_group="Progression",
        face="control",
        board=False,
    ),
    StatDef(
        "win_rate",
        "win_rate_shrunk",
        "Win rate, adjusted for sample size",
        "rate",
        "higher",
        "win_rate_n",
        10,
        "closed deals",
        "deal_flow",
        "deals won ÷ deals closed, pulled toward the whole org's rate in proportion to how few "
        "deals the rep closed (beta-binomial, prior fitted on every rep), with a 90% interval",
        "no closed deals in this period",
        card_group="Finishing",
        interval=("win_rate_lo", "win_rate_hi"),
        raw=("wins", "win_rate_n"),
    ),
    # -- adoption (metrics.adoption): whether people use the system; goals may be set on them
    StatDef(
        "logins",
        "logins",
        "Logins",
        "count",
        "higher",
        *_DAYS,
        "adoption",
        "logins to Matchday in the period",
        "no usage recorded",
        board=False,
    ),
    StatDef(
        "card_views",
        "card_views",
        "Card views",
        "count",
        "higher",
        *_DAYS,
        "adoption",
        "player-card views in the period",
        "no usage recorded",
        board=False,
    ),
    StatDef(
        "log_lag_hours",
        "log_lag_hours",
        "Logging lag",
        "hours",
        "lower",
        "log_lag_n",
        5,
        "activities logged",
        "adoption",
        "median hours from an activity's time to when it was logged (planned ahead: 0)",
        "no activity logged in this period with a logging time",
        board=False,
    ),
    StatDef(
        "next_step_share",
        "next_step_share",
        "Open deals with a next step",
        "rate",
        "higher",
        "adoption_open_n",
        5,
        "open deals",
        "adoption",
        "share of open deals with an activity planned after now (logged before now)",
        "no open deals",
        board=False,
    ),
    StatDef(
        "close_date_share",
        "close_date_share",
        "Open deals with a current close date",
        "rate",
        "higher",
        "adoption_open_n",
        5,
        "open deals",
        "adoption",
        "share of open deals whose expected close date is not in the past",
        "no open deals",
        board=False,
    ),
    StatDef(
        "sql_follow_up_share",
        "sql_follow_up_share",
        "SQLs followed up in time",
        "rate",
        "higher",
        "sql_follow_up_n",
        5,
        "SQLs",
        "adoption",
        "share of contacts becoming SQL that their owner worked within 24 hours",
        "no new SQLs in this period",
        board=False,
    ),
)

#: Every stat, by key, in display order.
CATALOGUE: Mapping[str, StatDef] = MappingProxyType({s.key: s for s in _STATS})


def stat(key: str) -> StatDef:
    """The declaration of stat ``key``.

    Returns
    -------
    StatDef

    Raises
    ------
    KeyError
        Naming the unknown key and the known ones.

    Examples
    --------
    >>> stat("revenue_won").unit
    'money'
    """
    try:
        return CATALOGUE[key]
    except KeyError:
        raise KeyError(f"unknown stat {key!r}; known: {', '.join(CATALOGUE)}") from None


def board_stats() -> Iterator[StatDef]:
    """The stats a board may rank, in catalogue order.

    Returns
    -------
    iterator of StatDef

    Examples
    --------
    >>> [s.key for s in board_stats()][:3]
    ['revenue_won', 'wins', 'meetings_booked']
    """
    return (s for s in CATALOGUE.values() if s.board)


def card_stats() -> Iterator[StatDef]:
    """The stats of the card's scouting table, in catalogue order.

    Returns
    -------
    iterator of StatDef

    Examples
    --------
    >>> [s.key for s in card_stats() if s.card_group == "Finishing"]
    ['revenue_won_per_day', 'win_rate']
    """
    return (s for s in CATALOGUE.values() if s.card_group is not None)


def face_stats() -> dict[str, StatDef]:
    """The stat each rating face reads, by face (what :mod:`metrics.rating` can be pointed at).

    Returns
    -------
    dict of str to StatDef

    Examples
    --------
    >>> {f: s.column for f, s in face_stats().items()}["finishing"]
    'revenue_won_per_day'
    """
    return {s.face: s for s in CATALOGUE.values() if s.face is not None}


def markdown_table() -> str:
    """The catalogue as the Markdown table of ``docs/stats.md`` (a test keeps the two equal).

    Returns
    -------
    str
        One row per stat: key, label, unit, better, sample (column ≥ minimum), family, definition.

    Examples
    --------
    >>> markdown_table().splitlines()[0]
    '| key | label | unit | better | sample (minimum) | family | definition |'
    """
    lines = [
        "| key | label | unit | better | sample (minimum) | family | definition |",
        "|---|---|---|---|---|---|---|",
    ]
    for s in CATALOGUE.values():
        lines.append(
            f"| `{s.key}` | {s.label} | {s.unit} | {s.better} | {s.sample_label} "
            f"(`{s.sample}` ≥ {s.minimum}) | {s.family} | {s.definition} |"
        )
    return "\n".join(lines) + "\n"
