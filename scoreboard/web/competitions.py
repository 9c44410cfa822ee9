"""Seasons and competitions: create one (admins, managers), follow its standings, the archive of
past seasons with champions, and the TV slides of fixtures and results.

Standings are :mod:`metrics.competitions` over the stat values of the app's snapshots
(:func:`scoreboard.numbers.stats_for`), so a competition shows the same numbers as the boards and
cards. A team's value is the mean of its members' scores. The ``baseline`` handicap compares each
rep with the same stat over the equally long period just before; the ``ramp`` handicap with the
target stored on the entry.

Access: everyone logged in sees competitions (like public boards); admins create any, managers
only among the reps and teams they manage (:func:`scoreboard.teams.managed_team_ids`). Reps who
opted out of the TV are shown as "A player" on the TV slide.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import pandas as pd
from flask import Blueprint, abort, current_app, render_template, request, url_for
from flask_login import current_user
from sqlmodel import select

from metrics.catalogue import CATALOGUE, board_stats
from metrics.competitions import (
    FORMATS,
    HANDICAPS,
    champion,
    fixture_results,
    fixture_table,
    league_table,
    round_robin,
    team_scores,
)

from .. import cards, db, numbers
from ..auth import require_role
from ..boards import display
from ..formatting import num
from ..models import Competition, CompetitionEntry, CompetitionFixture, Rep, Team
from ..teams import managed_team_ids

bp = Blueprint("competitions", __name__)
NAV = ("competitions.index", "Competitions", ("rep", "manager", "admin"))
FORMAT_LABELS = {"league": "League", "team_vs_team": "Team vs team", "fixtures": "Head-to-head fixtures"}
HANDICAP_LABELS = {
    "none": "No handicap: the stat itself",
    "baseline": "Against their own baseline (the period before = 100)",
    "ramp": "Against a ramp target per entry (100 = on target)",
}
MAX_ENTRIES = 64


def init_app(app: Any) -> None:
    from .. import pages

    app.register_blueprint(bp)
    if NAV not in pages.NAV_ITEMS:
        pages.NAV_ITEMS.append(NAV)
    app.jinja_env.globals["competition_slides"] = tv_slides


# ------------------------------------------------------------------------------------ access


def _managed() -> tuple[set[int], set[int]] | None:
    """(team ids, rep ids) the user may put in a competition; None: everything (admin)."""
    if current_user.role == "admin":
        return None
    s = db.session()
    own = s.get(Rep, current_user.rep_id) if current_user.rep_id else None
    teams = managed_team_ids(s, own.id, own.team_id) if own else set()  # type: ignore[arg-type]
    reps = set(s.exec(select(Rep.id).where(Rep.team_id.in_(teams))).all()) if teams else set()  # type: ignore[attr-defined]
    return teams, reps  # type: ignore[return-value]


def _choices() -> tuple[list[Rep], list[Team]]:
    s = db.session()
    reps = list(s.exec(select(Rep).where(Rep.active == True).order_by(Rep.name)))  # noqa: E712
    teams = list(s.exec(select(Team).order_by(Team.name)))
    allowed = _managed()
    if allowed is not None:
        reps = [r for r in reps if r.id in allowed[1]]
        teams = [t for t in teams if t.id in allowed[0]]
    return reps, teams


# ------------------------------------------------------------------------------- standings


@dataclass
class Standings:
    comp: Competition
    stat_label: str
    unit: str
    status: str  # "upcoming" | "live" | "finished"
    table: list[dict[str, Any]]
    fixtures: list[dict[str, Any]]
    champions: list[str]
    sentences: list[str]
    note: str


def _period(start: date, end_exclusive: date, label: str) -> Any:
    return numbers.calendar().between(start, end_exclusive, label)


def _values(stat_key: str, start: date, end_exclusive: date, now: pd.Timestamp) -> pd.Series:
    """The stat per rep over [start, end) as of ``now`` (NaN: no value)."""
    spec = CATALOGUE[stat_key]
    period = _period(start, end_exclusive, f"{start}–{end_exclusive}")
    stats = numbers.stats_for(period, now=now)
    if spec.column not in stats.columns:
        return pd.Series(dtype="float64")
    v = pd.to_numeric(stats[spec.column], errors="coerce").astype("float64")
    n = pd.to_numeric(stats.get(spec.sample, pd.Series(1, index=stats.index)), errors="coerce")
    return v.where(n.fillna(0) > 0)


def _status(comp: Competition, today: date) -> str:
    if today < comp.period_start:
        return "upcoming"
    return "finished" if today > comp.period_end else "live"


def standings(comp: Competition, now: pd.Timestamp | None = None) -> Standings:
    """Everything the competition page and the TV slide show."""
    now = now if now is not None else cards.now_utc()
    cal = numbers.calendar()
    today = cal.local_date(now)
    spec = CATALOGUE.get(comp.stat)
    if (
        spec is None
        or comp.format not in FORMATS
        or comp.handicap not in HANDICAPS
        or comp.entity not in ("rep", "team")
    ):
        # a stored competition this version cannot read (a stat since removed, a hand-edited row):
        # say so instead of failing the page
        return Standings(
            comp,
            comp.stat,
            "count",
            _status(comp, today),
            [],
            [],
            [],
            [
                f"{comp.name} uses a stat, format or handicap Matchday no longer knows ({comp.stat}, "
                f"{comp.format}, {comp.handicap}): no standings."
            ],
            "",
        )
    s = db.session()
    entries = list(s.exec(select(CompetitionEntry).where(CompetitionEntry.competition_id == comp.id)))
    reps = {r.id: r for r in s.exec(select(Rep))}
    teams = {t.id: t for t in s.exec(select(Team))}
    names = {
        e.id: (
            reps[e.rep_id].name if e.rep_id in reps else teams[e.team_id].name if e.team_id in teams else "?"
        )
        for e in entries
    }
    end_ex = comp.period_end + timedelta(days=1)
    length = end_ex - comp.period_start
    status = _status(comp, today)

    def entry_values(start: date, stop: date) -> tuple[dict[int, float], dict[int, float]]:
        """(value, reference) per entry over [start, stop): teams as the mean of members' scores."""
        vals = _values(comp.stat, start, stop, now) if start <= today else pd.Series(dtype="float64")
        base = (
            _values(comp.stat, start - length, start, now)
            if comp.handicap == "baseline"
            else pd.Series(dtype="float64")
        )
        value, ref = {}, {}
        for e in entries:
            if e.rep_id is not None:
                value[e.id] = float(vals.get(e.rep_id, math.nan))
                ref[e.id] = (
                    float(base.get(e.rep_id, math.nan))
                    if comp.handicap == "baseline"
                    else (e.ramp_target if e.ramp_target is not None else math.nan)
                )
            else:
                members = [r for r in reps.values() if r.team_id == e.team_id and r.active]
                m = pd.DataFrame(
                    {
                        "team_id": e.team_id,
                        "value": [float(vals.get(r.id, math.nan)) for r in members],
                        "reference": [
                            float(base.get(r.id, math.nan))
                            if comp.handicap == "baseline"
                            else (e.ramp_target if e.ramp_target is not None else math.nan)
                            for r in members
                        ],
                    }
                )
                got = team_scores(m, handicap=comp.handicap, better=spec.better) if len(m) else None
                value[e.id] = float(got["value"].iloc[0]) if got is not None and len(got) else math.nan
                ref[e.id] = math.nan
        return value, ref

    # teams already carry their handicapped score: rank them on it as is
    team_handicap = "none" if comp.entity == "team" else comp.handicap
    team_better = "higher" if (comp.entity == "team" and comp.handicap != "none") else spec.better
    shown_unit = spec.unit if (comp.handicap == "none") else "points"
    table_rows: list[dict[str, Any]] = []
    fixtures_rows: list[dict[str, Any]] = []
    champs: list[int] = []
    if comp.format == "fixtures":
        fx = list(s.exec(select(CompetitionFixture).where(CompetitionFixture.competition_id == comp.id)))
        rows = []
        played_rounds = sorted({f.round for f in fx})
        for r in played_rounds:
            start = comp.period_start + timedelta(days=(r - 1) * comp.round_days)
            stop = min(start + timedelta(days=comp.round_days), end_ex)
            if start > today:
                continue
            value, ref = entry_values(start, stop)
            done = stop <= today
            for eid in value:
                rows.append(
                    {"round": r, "entry_id": eid, "value": value[eid], "reference": ref[eid], "done": done}
                )
        sc = pd.DataFrame(rows, columns=["round", "entry_id", "value", "reference", "done"])
        fdf = pd.DataFrame(
            [(f.round, f.home_entry_id, f.away_entry_id) for f in fx], columns=["round", "home", "away"]
        )
        res = fixture_results(fdf, sc, handicap=team_handicap, better=team_better)
        done = {r: bool(d) for r, d in zip(sc["round"], sc["done"], strict=True)}
        res.loc[[not done.get(r, False) for r in res["round"]], "result"] = ""
        table = fixture_table(res, pd.DataFrame({"entry_id": list(names), "name": list(names.values())}))
        for r in res.sort_values(["round"]).itertuples():
            fixtures_rows.append(
                {
                    "round": int(r.round),
                    "home": names.get(r.home, "?"),
                    "away": names.get(r.away, "?"),
                    "home_score": _fmt(r.home_score, shown_unit),
                    "away_score": _fmt(r.away_score, shown_unit),
                    "result": r.result,
                    "state": "played" if done.get(r.round) else ("in play" if r.round in done else "to play"),
                    "home_id": int(r.home),
                    "away_id": int(r.away),
                }
            )
        for t in table.itertuples():
            table_rows.append(
                {
                    "entry_id": int(t.entry_id),
                    "rank": int(t.rank),
                    "name": t.name,
                    "played": t.played,
                    "won": t.won,
                    "drawn": t.drawn,
                    "lost": t.lost,
                    "points": t.points,
                    "score": _fmt(t.difference, shown_unit, signed=True),
                    "movement": "",
                    "division": 1,
                }
            )
        champs = [int(e) for e in table.loc[table["rank"] == 1, "entry_id"]] if table["played"].sum() else []
    else:
        value, ref = entry_values(comp.period_start, end_ex)
        e_df = pd.DataFrame(
            {
                "entry_id": [e.id for e in entries],
                "name": [names[e.id] for e in entries],
                "value": [value[e.id] for e in entries],
                "reference": [ref[e.id] for e in entries],
                "division": [e.division for e in entries],
            }
        )
        table = league_table(e_df, handicap=team_handicap, better=team_better, promote=comp.promote)
        for t in table.itertuples():
            table_rows.append(
                {
                    "entry_id": int(t.entry_id),
                    "rank": None if pd.isna(t.rank) else int(t.rank),
                    "name": t.name,
                    "score": _fmt(t.score, shown_unit),
                    "value": _fmt(t.value, spec.unit) if comp.entity == "rep" else "",
                    "movement": t.movement,
                    "division": int(t.division),
                }
            )
        champs = champion(table) if status == "finished" else []
        if status != "finished":
            leaders = champion(table)
        else:
            leaders = champs
    leaders = champs if comp.format == "fixtures" else leaders
    sentences = _sentences(comp, spec.label, status, table_rows, [names[i] for i in leaders if i in names])
    note = {
        "none": f"Ranked on {spec.label.lower()} itself.",
        "baseline": "Score = the stat as a percentage of the entry's own value over the period "
        "just before (100 = as good as before; for a lower-is-better stat, the baseline over the value).",
        "ramp": "Score = the stat as a percentage of the entry's ramp target (100 = on target).",
    }[comp.handicap]
    if comp.entity == "team":
        note += " A team's score is the mean of its members' scores."
    return Standings(
        comp,
        spec.label,
        shown_unit,
        status,
        table_rows,
        fixtures_rows,
        [names[i] for i in champs if i in names],
        sentences,
        note,
    )


def _fmt(v: Any, unit: str, signed: bool = False) -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "–"
    if not math.isfinite(f):
        return "–"
    if unit == "points":
        return num(f, signed=signed)
    return display(f, unit, current_app, signed=signed)


def _sentences(
    comp: Competition, label: str, status: str, rows: list[dict[str, Any]], leaders: list[str]
) -> list[str]:
    if status == "upcoming":
        return [
            f"{comp.name} starts on {comp.period_start:%d %B %Y}: {len(rows)} entries on {label.lower()}."
        ]
    if not leaders:
        return [f"No entry has a score yet in {comp.name} ({label.lower()})."]
    who = " and ".join(leaders)
    verb = "won" if status == "finished" else ("lead" if len(leaders) > 1 else "leads")
    out = [f"{who} {verb} {comp.name}."]
    ups = [r["name"] for r in rows if r.get("movement") == "up"]
    downs = [r["name"] for r in rows if r.get("movement") == "down"]
    if ups:
        out.append(
            f"Going up: {', '.join(ups)}."
            if status == "finished"
            else f"In the promotion places: {', '.join(ups)}."
        )
    if downs:
        out.append(
            f"Going down: {', '.join(downs)}."
            if status == "finished"
            else f"In the relegation places: {', '.join(downs)}."
        )
    return out


# ------------------------------------------------------------------------------------ views


@bp.get("/competitions")
@require_role("rep", "manager", "admin")
def index() -> Any:
    """Current and upcoming competitions, and the archive of past seasons with their champions."""
    s = db.session()
    comps = list(s.exec(select(Competition).order_by(Competition.period_start.desc(), Competition.id)))  # type: ignore[attr-defined]
    today = numbers.calendar().local_date(cards.now_utc())
    current = [c for c in comps if _status(c, today) != "finished"]
    past = [(c, standings(c).champions) for c in comps if _status(c, today) == "finished"]
    seasons: dict[str, list[Any]] = {}
    for c, champs in past:
        seasons.setdefault(c.season or f"{c.period_start:%Y}", []).append((c, champs))
    return render_template(
        "competitions.html",
        current=current,
        seasons=seasons,
        can_create=current_user.role in ("manager", "admin"),
        labels=FORMAT_LABELS,
        catalogue=CATALOGUE,
    )


@bp.get("/competitions/<int:comp_id>")
@require_role("rep", "manager", "admin")
def show(comp_id: int) -> Any:
    comp = db.session().get(Competition, comp_id)
    if comp is None:
        abort(404)
    return render_template("competition.html", st=standings(comp), labels=FORMAT_LABELS)


def _ids(form: Any, field: str) -> set[int]:
    values = form.getlist(field) if hasattr(form, "getlist") else []
    return {int(v) for v in values if str(v).isdigit()}


def _form_page(errors: dict[str, str], form: Any, status: int = 200) -> Any:
    reps, teams = _choices()
    html = render_template(
        "competition_form.html",
        errors=errors,
        form=form,
        reps=reps,
        teams=teams,
        stats=list(board_stats()),
        formats=FORMAT_LABELS,
        handicaps=HANDICAP_LABELS,
        checked_reps=_ids(form, "reps"),
        checked_teams=_ids(form, "teams"),
    )
    return html, status


@bp.get("/competitions/new")
@require_role("manager", "admin")
def new() -> Any:
    today = numbers.calendar().local_date(cards.now_utc())
    return _form_page(
        {}, {"period_start": today.isoformat(), "period_end": (today + timedelta(days=27)).isoformat()}
    )


def _parse(form: Any) -> tuple[dict[str, Any], dict[str, str]]:
    """The competition a form describes, and an error per bad field (named as on the form)."""
    errors: dict[str, str] = {}
    out: dict[str, Any] = {}
    name = (form.get("name") or "").strip()
    if not name or len(name) > 120:
        errors["name"] = "Give the competition a name (at most 120 characters)."
    out["name"] = name
    out["season"] = (form.get("season") or "").strip()[:60]
    fmt = form.get("format", "")
    if fmt not in FORMATS:
        errors["format"] = f"Choose a format: {', '.join(FORMATS)}."
    out["format"] = fmt
    entity = "team" if fmt == "team_vs_team" else form.get("entity", "rep")
    if entity not in ("rep", "team"):
        errors["entity"] = "Entries are reps or teams."
    out["entity"] = entity
    stat = form.get("stat", "")
    if stat not in CATALOGUE or not CATALOGUE[stat].board:
        errors["stat"] = "Choose a stat from the list."
    out["stat"] = stat
    handicap = form.get("handicap", "none")
    if handicap not in HANDICAPS:
        errors["handicap"] = f"Choose a handicap: {', '.join(HANDICAPS)}."
    out["handicap"] = handicap
    try:
        start = date.fromisoformat(form.get("period_start", ""))
        end = date.fromisoformat(form.get("period_end", ""))
        if end < start:
            errors["period_end"] = "The end is before the start."
        elif (end - start).days > 400:
            errors["period_end"] = "A competition lasts at most 400 days."
        out["period_start"], out["period_end"] = start, end
    except ValueError:
        errors["period_start"] = "Dates as YYYY-MM-DD."
    for field, lo, hi, default in (("round_days", 1, 92, 7), ("promote", 0, 10, 0)):
        try:
            v = int(form.get(field) or default)
            if not lo <= v <= hi:
                raise ValueError
            out[field] = v
        except ValueError:
            errors[field] = f"A whole number from {lo} to {hi}."
    ids_field = "teams" if entity == "team" else "reps"
    try:
        ids = sorted({int(v) for v in form.getlist(ids_field)})
    except ValueError:
        ids = []
        errors[ids_field] = "Unknown entry."
    reps, teams = _choices()
    allowed = {r.id for r in reps} if entity == "rep" else {t.id for t in teams}
    if any(i not in allowed for i in ids):
        errors[ids_field] = "You may only enter the reps and teams you manage."
    elif not 2 <= len(ids) <= MAX_ENTRIES:
        errors[ids_field] = f"Pick between 2 and {MAX_ENTRIES} entries."
    out["ids"] = ids
    out["divisions"], out["ramp"] = {}, {}
    prefix = "t" if entity == "team" else ""
    for i in ids:
        try:
            d = int(form.get(f"{prefix}division_{i}") or 1)
            if not 1 <= d <= 5:
                raise ValueError
            out["divisions"][i] = d
        except ValueError:
            errors[f"{prefix}division_{i}"] = "Division from 1 to 5."
        raw = (form.get(f"{prefix}ramp_{i}") or "").strip()
        if raw:
            try:
                v = float(raw)
                if not math.isfinite(v) or v <= 0:
                    raise ValueError
                out["ramp"][i] = v
            except ValueError:
                errors[f"{prefix}ramp_{i}"] = "A ramp target is a positive number."
        elif handicap == "ramp":
            errors[f"{prefix}ramp_{i}"] = "The ramp handicap needs a target for every entry."
    return out, errors


@bp.post("/competitions")
@require_role("manager", "admin")
def create() -> Any:
    data, errors = _parse(request.form)
    if errors:
        return _form_page(errors, request.form, 400)
    s = db.session()
    comp = Competition(
        name=data["name"],
        season=data["season"],
        format=data["format"],
        entity=data["entity"],
        stat=data["stat"],
        handicap=data["handicap"],
        period_start=data["period_start"],
        period_end=data["period_end"],
        round_days=data["round_days"],
        promote=data["promote"],
        created_by=current_user.id,
    )
    s.add(comp)
    s.flush()
    entries = {}
    for i in data["ids"]:
        e = CompetitionEntry(
            competition_id=comp.id,  # type: ignore[arg-type]
            rep_id=i if data["entity"] == "rep" else None,
            team_id=i if data["entity"] == "team" else None,
            division=data["divisions"].get(i, 1),
            ramp_target=data["ramp"].get(i),
        )
        s.add(e)
        s.flush()
        entries[i] = e.id
    if data["format"] == "fixtures":
        for f in round_robin([entries[i] for i in data["ids"]]).itertuples():
            s.add(
                CompetitionFixture(
                    competition_id=comp.id,
                    round=int(f.round),
                    home_entry_id=int(f.home),
                    away_entry_id=int(f.away),
                )
            )  # type: ignore[arg-type]
    s.commit()
    target = url_for("competitions.show", comp_id=comp.id)
    if request.htmx:  # type: ignore[attr-defined]
        resp = current_app.make_response(("", 204))
        resp.headers["HX-Redirect"] = target
        return resp
    return current_app.redirect(target, 303)


# --------------------------------------------------------------------------------------- TV


def tv_slides() -> list[dict[str, Any]]:
    """Competitions live now (or finished in the last 7 days) marked for TV: their slides, with
    opted-out reps shown as "A player"."""
    s = db.session()
    today = numbers.calendar().local_date(cards.now_utc())
    comps = s.exec(
        select(Competition).where(
            Competition.on_tv == True,  # noqa: E712
            Competition.period_start <= today,
            Competition.period_end >= today - timedelta(days=7),
        )
    ).all()
    hidden = {r.name for r in s.exec(select(Rep).where(Rep.tv_opt_out == True))}  # noqa: E712
    slides = []
    for c in comps:
        st = standings(c)
        if c.entity == "rep":
            for row in st.table:
                if row["name"] in hidden:
                    row["name"] = "A player"
            for f in st.fixtures:
                f["home"] = "A player" if f["home"] in hidden else f["home"]
                f["away"] = "A player" if f["away"] in hidden else f["away"]
            st.champions = ["A player" if n in hidden else n for n in st.champions]
            st.sentences = []
        slides.append({"st": st})
    return slides
