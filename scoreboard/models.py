"""The domain model of DESIGN.md as SQLModel tables.

Conventions
-----------
- Every timestamp is timezone-aware UTC (SQLModel maps ``datetime`` to ``UTCDateTime``, which refuses
  naive values).
- Money is an integer in minor units (``amount`` in øre for NOK) with its ``currency``.
- Records that come from outside carry ``(source, external_id)``, unique per table, so that a retried
  delivery is recognised and never counted twice.
- Activities, touches, stage changes and field changes are append-only history; contacts and deals hold
  the latest state, and their history tables let any earlier state be replayed.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import BigInteger, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

ROLES = ("rep", "manager", "admin")
LIFECYCLE_STAGES = ("subscriber", "lead", "mql", "sql", "opportunity", "customer", "disqualified")
LEAD_SOURCES = ("web", "event", "referral", "outbound", "partner", "paid", "other")
DEAL_STAGES = ("qualification", "discovery", "demo", "proposal", "negotiation", "won", "lost")
OPEN_DEAL_STAGES = DEAL_STAGES[:5]
ACTIVITY_KINDS = ("call", "email", "meeting", "demo", "proposal", "content_share", "note")
TOUCH_ACTIONS = ("view", "download", "share", "visit")
CONTENT_KINDS = (
    "article",
    "case_study",
    "whitepaper",
    "webinar",
    "pricing_page",
    "product_page",
    "video",
    "ebook",
)
BUYING_PHASES = ("awareness", "consideration", "decision")
UNASSIGNED_TEAM = "Unassigned"


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class Team(SQLModel, table=True):
    """A sales team. Its manager is the rep a ``team`` record named (:class:`TeamManager`), else its
    member with the role ``manager``. ``parent_id`` makes regions and divisions of teams."""

    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    source: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=128)
    region: str | None = Field(default=None, max_length=200)
    parent_id: int | None = Field(default=None, foreign_key="team.id")


class Rep(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    email: str = Field(max_length=254, unique=True)
    team_id: int = Field(foreign_key="team.id", index=True)
    role: str = Field(default="rep", max_length=16)
    active: bool = True
    start_date: date | None = None
    tv_opt_out: bool = False
    source: str | None = Field(default=None, max_length=64)
    external_id: str | None = Field(default=None, max_length=128)
    created_at: datetime = Field(default_factory=utcnow)


class TeamManager(SQLModel, table=True):
    """The manager a ``team`` record named (its own table: ``team`` and ``rep`` already point at
    each other one way)."""

    __tablename__ = "team_manager"
    team_id: int = Field(foreign_key="team.id", primary_key=True, ondelete="CASCADE")
    rep_id: int = Field(foreign_key="rep.id", index=True, ondelete="CASCADE")


class Persona(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    description: str = Field(default="", max_length=500)


class Content(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=128)
    title: str = Field(max_length=300)
    kind: str = Field(default="article", max_length=32)
    buying_phase: str | None = Field(default=None, max_length=16)
    url: str | None = Field(default=None, max_length=1000)
    updated_at: datetime = Field(default_factory=utcnow)


class ContentPersona(SQLModel, table=True):
    """Which personas a piece of content targets."""

    __tablename__ = "content_persona"
    content_id: int = Field(foreign_key="content.id", primary_key=True, ondelete="CASCADE")
    persona_id: int = Field(foreign_key="persona.id", primary_key=True, ondelete="CASCADE")


class Contact(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=128)
    email: str | None = Field(default=None, max_length=254)
    name: str | None = Field(default=None, max_length=200)
    company: str | None = Field(default=None, max_length=200)
    title: str | None = Field(default=None, max_length=200)
    persona_id: int | None = Field(default=None, foreign_key="persona.id")
    lifecycle_stage: str = Field(default="lead", max_length=16)
    lead_source: str | None = Field(default=None, max_length=16)
    owner_rep_id: int | None = Field(default=None, foreign_key="rep.id", index=True)
    consent: bool = False
    created_at: datetime
    updated_at: datetime


class Account(SQLModel, table=True):
    """A customer company (``account`` records): deals name it by ``account_id``."""

    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=128)
    name: str = Field(max_length=200)
    industry: str | None = Field(default=None, max_length=200)
    size: str | None = Field(default=None, max_length=200)
    country: str | None = Field(default=None, max_length=200)
    updated_at: datetime


class Deal(SQLModel, table=True):
    """A deal's latest state. ``amount`` is always in the org's currency (``currency``); a deal sent
    in another currency keeps what was sent in ``amount_original`` / ``currency_original`` and the
    rate that converted it in ``fx_rate`` (org currency per unit, as text)."""

    __table_args__ = (UniqueConstraint("source", "external_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=128)
    name: str = Field(default="", max_length=300)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    account: str | None = Field(default=None, max_length=200)
    owner_rep_id: int = Field(foreign_key="rep.id", index=True)
    lead_source: str | None = Field(default=None, max_length=16)
    amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    currency: str = Field(default="NOK", max_length=3)
    stage: str = Field(default="qualification", max_length=16)
    created_at: datetime
    expected_close: date | None = None
    closed_at: datetime | None = None
    outcome: str = Field(default="open", max_length=8)
    lost_reason: str | None = Field(default=None, max_length=200)
    updated_at: datetime
    account_id: int | None = Field(default=None, foreign_key="account.id", index=True)
    amount_original: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    currency_original: str | None = Field(default=None, max_length=3)
    fx_rate: str | None = Field(default=None, max_length=32)


class DealProduct(SQLModel, table=True):
    """A line item of a deal; a deal record with ``products`` replaces all of its lines.

    ``unit_amount`` is in minor units of the org's currency (converted like the deal's amount);
    ``quantity`` is in thousandths (1.5 hours = 1500).
    """

    __tablename__ = "deal_product"
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id", index=True, ondelete="CASCADE")
    position: int = 0
    name: str = Field(max_length=200)
    quantity_milli: int = Field(sa_column=Column(BigInteger, nullable=False))
    unit_amount: int = Field(sa_column=Column(BigInteger, nullable=False))


class CurrencyRate(SQLModel, table=True):
    """How many units of the org's currency one unit of ``currency`` is worth; kept by an admin.

    Deals sent in ``currency`` are converted at the rate stored when they arrive; the rate used is
    kept beside each deal (``deal.fx_rate``).
    """

    __tablename__ = "currency_rate"
    currency: str = Field(primary_key=True, max_length=3)
    rate: str = Field(max_length=32)  # a decimal as text: exact on SQLite and PostgreSQL alike
    updated_at: datetime = Field(default_factory=utcnow)
    updated_by: int | None = Field(default=None, foreign_key="user.id")


class Activity(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_activity_rep_at", "rep_id", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=128)
    rep_id: int = Field(foreign_key="rep.id")
    kind: str = Field(max_length=16)
    at: datetime = Field(index=True)
    contact_id: int | None = Field(default=None, foreign_key="contact.id", index=True)
    deal_id: int | None = Field(default=None, foreign_key="deal.id", index=True)
    content_id: int | None = Field(default=None, foreign_key="content.id")
    outcome: str | None = Field(default=None, max_length=32)
    duration_s: int | None = None
    #: When the activity reached Matchday (or the CRM's own creation time, when sent): logged_at − at
    #: is how late it was logged. NULL for activities stored before migration 0010.
    logged_at: datetime | None = None


class Touch(SQLModel, table=True):
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_touch_contact_at", "contact_id", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    source: str = Field(max_length=64)
    external_id: str = Field(max_length=128)
    contact_id: int = Field(foreign_key="contact.id")
    content_id: int | None = Field(default=None, foreign_key="content.id", index=True)
    url: str | None = Field(default=None, max_length=1000)
    action: str = Field(max_length=16)
    at: datetime = Field(index=True)
    seconds: int | None = None
    channel: str | None = Field(default=None, max_length=16)


class StageChange(SQLModel, table=True):
    """A contact's lifecycle stage or a deal's stage moving from one value to another.

    The first row of a record has ``from_stage`` NULL: that is its creation. ``rep_id`` is the owner at
    the time of the change.
    """

    __tablename__ = "stage_change"
    __table_args__ = (
        Index("ix_stage_change_deal", "deal_id", "at"),
        Index("ix_stage_change_contact", "contact_id", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    object: str = Field(max_length=8)  # "contact" | "deal"
    contact_id: int | None = Field(default=None, foreign_key="contact.id")
    deal_id: int | None = Field(default=None, foreign_key="deal.id")
    from_stage: str | None = Field(default=None, max_length=16)
    to_stage: str = Field(max_length=16)
    at: datetime = Field(index=True)
    rep_id: int | None = Field(default=None, foreign_key="rep.id")


class DealChange(SQLModel, table=True):
    """A change of a deal's amount, expected close date or owner (old and new as text)."""

    __tablename__ = "deal_change"
    id: int | None = Field(default=None, primary_key=True)
    deal_id: int = Field(foreign_key="deal.id", index=True)
    field: str = Field(max_length=32)  # "amount" | "expected_close" | "owner"
    old: str | None = Field(default=None, max_length=64)
    new: str | None = Field(default=None, max_length=64)
    at: datetime


class ContactChange(SQLModel, table=True):
    """A change of a contact's owner, persona or lead source (old and new as text)."""

    __tablename__ = "contact_change"
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True)
    field: str = Field(max_length=32)
    old: str | None = Field(default=None, max_length=254)
    new: str | None = Field(default=None, max_length=254)
    at: datetime


class Goal(SQLModel, table=True):
    """A target for a metric over a period: a quota (``result``) or an activity goal (``kpi``)."""

    id: int | None = Field(default=None, primary_key=True)
    metric: str = Field(max_length=64)
    scope: str = Field(max_length=8)  # "org" | "team" | "rep"
    team_id: int | None = Field(default=None, foreign_key="team.id")
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    period_start: date
    period_end: date  # inclusive
    target: int = Field(sa_column=Column(BigInteger, nullable=False))
    kind: str = Field(default="result", max_length=8)  # "result" | "kpi"
    owner_function: str = Field(default="sales", max_length=16)  # "sales" | "marketing"
    owner_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    #: The goal this KPI drives (a goal tree: result goals at the root; see metrics.goals).
    parent_id: int | None = Field(default=None, foreign_key="goal.id")
    #: Raised on every change; each version is kept in :class:`GoalVersion`.
    version: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    updated_at: datetime | None = None
    updated_by: int | None = Field(default=None, foreign_key="user.id")


class GoalVersion(SQLModel, table=True):
    """One version of a goal as it was saved (``action``: create, edit, import, derive, delete)."""

    __tablename__ = "goal_version"
    id: int | None = Field(default=None, primary_key=True)
    goal_id: int = Field(index=True)  # no foreign key: a deleted goal keeps its history
    version: int
    action: str = Field(max_length=8)
    metric: str = Field(max_length=64)
    target: int = Field(sa_column=Column(BigInteger, nullable=False))
    period_start: date
    period_end: date
    owner: str = Field(default="", max_length=120)  # "marketing", "sales", "team:3", "rep:12"
    changed_at: datetime = Field(default_factory=utcnow)
    changed_by: int | None = Field(default=None, foreign_key="user.id")


class UsageEvent(SQLModel, table=True):
    """A login or a card view (adoption): one small row written in the request path."""

    __tablename__ = "usage_event"
    __table_args__ = (Index("ix_usage_event_rep_at", "rep_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow)
    kind: str = Field(max_length=12)  # "login" | "card_view"
    user_id: int | None = Field(default=None, foreign_key="user.id")
    rep_id: int | None = None  # the user's rep row (no foreign key: an erased rep keeps no link)


class User(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True)
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=300)
    role: str = Field(default="rep", max_length=16)  # "rep" | "manager" | "admin"
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    #: Part of every session cookie; raised on logout and password change, which ends every session
    #: issued before (see scoreboard.auth).
    session_version: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    #: The language the person chose ("nb", "en"); None: the org's default (config ``LOCALE``).
    locale: str | None = Field(default=None, max_length=8)


class LoginLink(SQLModel, table=True):
    """A one-time link with which a person sets their own password (only the SHA-256 is stored)."""

    __tablename__ = "login_link"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True, ondelete="CASCADE")
    token_hash: str = Field(max_length=64, unique=True)
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None


class Token(SQLModel, table=True):
    """An API or display token. Only the SHA-256 of the secret is stored."""

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=8)  # "api" | "display"
    name: str = Field(max_length=120)
    token_hash: str = Field(max_length=64, unique=True)
    prefix: str = Field(max_length=12)
    created_at: datetime = Field(default_factory=utcnow)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    revoked_at: datetime | None = None
    last_used_at: datetime | None = None
    playlist_id: int | None = Field(default=None, foreign_key="playlist.id")  # display tokens
    #: API tokens: what the token may do, space-separated (``ingest``, ``read``); see tokens.SCOPES
    scopes: str = Field(default="ingest", max_length=64, sa_column_kwargs={"server_default": "ingest"})


class Setting(SQLModel, table=True):
    """Small runtime switches shared by every process (e.g. the simulator on/off)."""

    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=1000)
    updated_at: datetime = Field(default_factory=utcnow)


class Board(SQLModel, table=True):
    """A saved leaderboard: which stat, over which period, for whom, and how it ranks.

    ``stat`` names a column of :func:`metrics.stats.match_stats`; ``period`` is one of ``day``,
    ``week``, ``month``, ``quarter``, ``fiscal_year``; ``scope`` is ``org``, ``team`` (with
    ``team_id``) or ``role`` (with ``role``); ``entity`` says whether rows are ``rep`` or ``team``.
    ``kind`` is ``stat`` for a ranked stat or ``league`` for the team league table.
    """

    id: int | None = Field(default=None, primary_key=True)
    title: str = Field(max_length=120)
    kind: str = Field(default="stat", max_length=16)  # "stat" | "league"
    stat: str = Field(max_length=64)
    period: str = Field(default="quarter", max_length=16)
    scope: str = Field(default="org", max_length=8)  # "org" | "team" | "role"
    team_id: int | None = Field(default=None, foreign_key="team.id")
    role: str | None = Field(default=None, max_length=16)
    entity: str = Field(default="rep", max_length=8)  # "rep" | "team"
    top_n: int = 10
    lower_is_better: bool = False
    min_sample: int = 0
    public: bool = True  # shown on the logged-in leaderboard pages to every role
    created_at: datetime = Field(default_factory=utcnow)


class Playlist(SQLModel, table=True):
    """What one TV shows: boards in order, each for ``seconds_per_slide``, and optionally the match centre."""

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120, unique=True)
    seconds_per_slide: int = 15
    show_match_centre: bool = True
    created_at: datetime = Field(default_factory=utcnow)


class PlaylistBoard(SQLModel, table=True):
    __tablename__ = "playlist_board"
    playlist_id: int = Field(foreign_key="playlist.id", primary_key=True, ondelete="CASCADE")
    board_id: int = Field(foreign_key="board.id", primary_key=True, ondelete="CASCADE")
    position: int = 0


class CoachingNote(SQLModel, table=True):
    """A manager's 1:1 with a rep: agenda notes and one or two focus metrics to revisit next time.

    ``focus`` holds the focus metrics as JSON: ``[{"stat": "speed_to_lead_hours",
    "percentile": 34.0, "value": 5.2}]``, the rep's standing when the 1:1 was held.
    """

    __tablename__ = "coaching_note"
    id: int | None = Field(default=None, primary_key=True)
    rep_id: int = Field(foreign_key="rep.id", index=True)
    author_user_id: int | None = Field(default=None, foreign_key="user.id")
    held_at: datetime = Field(default_factory=utcnow)
    notes: str = Field(default="", max_length=10000)
    focus: str = Field(default="[]", max_length=4000)


class AuditEntry(SQLModel, table=True):
    """Who did what to which record, and when, for actions on people's data (erasure, retention).

    ``target`` names the record by kind and internal id (``contact:412``) and ``detail`` holds counts
    (JSON): never a name, email or other personal data of the person concerned.
    """

    __tablename__ = "audit_entry"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    actor: str = Field(max_length=300)  # "user:3 admin@acme.no" or "cli:<os user>"
    action: str = Field(max_length=32)  # "erase_contact" | "prune_touches" | "restore"
    target: str = Field(default="", max_length=200)
    detail: str = Field(default="{}", max_length=4000)


class Competition(SQLModel, table=True):
    """A named competition over a period on one catalogue stat (metrics.competitions).

    ``format`` is ``league``, ``team_vs_team`` or ``fixtures``; ``entity`` says whether entries are
    ``rep`` or ``team``; ``handicap`` is ``none``, ``baseline`` or ``ramp``; ``promote`` is how many
    go up and down between divisions; fixtures play one round per ``round_days`` from the start.
    A competition whose ``period_end`` has passed is in the archive; its champion is computed from
    the stored entries and the data, never typed in.
    """

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=120)
    season: str = Field(default="", max_length=60)  # "Q1 2027", groups the archive
    format: str = Field(default="league", max_length=16)
    entity: str = Field(default="rep", max_length=8)
    stat: str = Field(max_length=64)
    handicap: str = Field(default="none", max_length=16)
    period_start: date
    period_end: date  # inclusive
    round_days: int = 7
    promote: int = 0
    on_tv: bool = True
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class CompetitionEntry(SQLModel, table=True):
    """One rep or team in a competition, with its division and (ramp handicap) its target."""

    __tablename__ = "competition_entry"
    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True, ondelete="CASCADE")
    rep_id: int | None = Field(default=None, foreign_key="rep.id")
    team_id: int | None = Field(default=None, foreign_key="team.id")
    division: int = 1
    ramp_target: float | None = None


class CompetitionFixture(SQLModel, table=True):
    """A head-to-head pairing of two entries in one round."""

    __tablename__ = "competition_fixture"
    id: int | None = Field(default=None, primary_key=True)
    competition_id: int = Field(foreign_key="competition.id", index=True, ondelete="CASCADE")
    round: int
    home_entry_id: int = Field(foreign_key="competition_entry.id", ondelete="CASCADE")
    away_entry_id: int = Field(foreign_key="competition_entry.id", ondelete="CASCADE")


class RuleVersion(SQLModel, table=True):
    """A version of the SQL rules (metrics.qualification.rules), as reviewable TOML text.

    Drafts have ``published_at`` NULL; the live version is the one published last.
    """

    __tablename__ = "rule_version"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    author: str = Field(max_length=300)
    created_at: datetime = Field(default_factory=utcnow)
    published_at: datetime | None = Field(default=None, index=True)
    rules_toml: str = Field(max_length=100_000)


class SqlRecord(SQLModel, table=True):
    """A contact made SQL by a rule version: when, and the rules that fired (JSON) with the sentence."""

    __tablename__ = "sql_record"
    __table_args__ = (UniqueConstraint("contact_id", "version_id"),)
    id: int | None = Field(default=None, primary_key=True)
    contact_id: int = Field(foreign_key="contact.id", index=True, ondelete="CASCADE")
    version_id: int = Field(foreign_key="rule_version.id", index=True)
    qualified_at: datetime = Field(index=True)
    fired: str = Field(default="{}", max_length=4000)
    explanation: str = Field(default="", max_length=1000)


class PipelineSnapshot(SQLModel, table=True):
    """One open deal as it stood at the end of ``snapshot_date`` (org-local), kept from the day the
    weekly snapshot job first ran (issue 12; research forecasting.md §8). Dates before the first
    stored one are rebuilt from the deal history instead (:mod:`scoreboard.forecast_store`)."""

    __tablename__ = "pipeline_snapshot"
    __table_args__ = (UniqueConstraint("snapshot_date", "deal_id", name="uq_pipeline_snapshot_date_deal"),)
    id: int | None = Field(default=None, primary_key=True)
    snapshot_date: date = Field(index=True)
    deal_id: int = Field(foreign_key="deal.id", index=True, ondelete="CASCADE")
    owner_rep_id: int | None = Field(default=None, foreign_key="rep.id")
    stage: str | None = Field(default=None, max_length=16)
    amount: int = Field(default=0, sa_column=Column(BigInteger, nullable=False))
    expected_close: date | None = None
    created_at: datetime
    days_in_stage: int = 0
    times_pushed: int = 0
    last_activity_at: datetime | None = None
    engaged_contacts: int = 0
    taken_at: datetime = Field(default_factory=utcnow)
