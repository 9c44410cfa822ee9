"""Weekly pipeline snapshots kept from now on (issue 12, item 1, storage side): the table, the job,
the CLI, and the loader that uses stored snapshots where the table has them and rebuilds the rest
from the deal history."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from sqlalchemy import text

from metrics.forecast import pipeline_snapshots
from scoreboard import db, numbers
from scoreboard.forecast_store import (
    last_complete_day,
    load_snapshots,
    stored_dates,
    take_snapshot,
    take_weekly_snapshot,
)
from scoreboard.frames import FrameCache
from tests.demo_org_app import seeded_org

NOW = dt.datetime(2026, 11, 25, 10, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    return seeded_org(tmp_path_factory, "fstore", seed=5, reps=6, quarters=1, deal_quarters=3, now=NOW)


def plain(frame):
    """Values only: a categorical column's categories depend on which rows were rebuilt."""
    cats = [c for c in frame.columns if isinstance(frame[c].dtype, pd.CategoricalDtype)]
    return frame.assign(**{c: frame[c].astype(object) for c in cats})


def rebuilt(app, day):
    return rebuilt_from(numbers.frames(app), app, day)


def rebuilt_from(data, app, day):
    return pipeline_snapshots(
        data.deals,
        data.deal_stages,
        data.deal_changes,
        data.activities,
        [day],
        calendar=numbers.calendar(app),
        reps=data.reps,
    )


def test_a_stored_snapshot_reads_back_as_the_rebuilt_one_and_survives_an_edit_without_history(org):
    app = org.app
    engine = db.engine_for(app)
    day = dt.date(2026, 11, 20)
    expected = rebuilt(app, day)
    assert len(expected) > 20  # a real pipeline to store
    with app.app_context():
        n = take_snapshot(engine, numbers.frames(app), numbers.calendar(app), day)
        assert n == len(expected)
        assert (
            take_snapshot(engine, numbers.frames(app), numbers.calendar(app), day) == n
        )  # replaces, no duplicates
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM pipeline_snapshot")).scalar_one() == n
    got = load_snapshots(engine, numbers.frames(app), [day], numbers.calendar(app))
    pd.testing.assert_frame_equal(plain(got), plain(expected), check_dtype=False)

    # A CRM edit that keeps no field history (the amount overwritten in place): a rebuilt snapshot
    # can only show today's amount; the stored one still shows the amount of that day.
    deal_id, before = int(expected["deal_id"].iloc[0]), int(expected["amount"].iloc[0])
    with db.write_transaction(engine) as conn:
        conn.execute(text("DELETE FROM deal_change WHERE deal_id = :d AND field = 'amount'"), {"d": deal_id})
        conn.execute(text("UPDATE deal SET amount = amount + 12300 WHERE id = :d"), {"d": deal_id})
    fresh = FrameCache(engine, currency=app.config["CURRENCY"]).frames()  # loaded anew from the database
    assert int(rebuilt_from(fresh, app, day).set_index("deal_id").at[deal_id, "amount"]) != before
    stored = load_snapshots(engine, fresh, [day], numbers.calendar(app))
    assert int(stored.set_index("deal_id").at[deal_id, "amount"]) == before
    # labels come from the deals as known now
    assert int(stored.set_index("deal_id").at[deal_id, "final_amount"]) == int(
        fresh.deals.set_index("deal_id").at[deal_id, "amount"]
    )


def test_dates_before_the_table_starts_are_rebuilt_from_history(org):
    app = org.app
    engine = db.engine_for(app)
    early = dt.date(2026, 8, 14)
    assert early < stored_dates(engine)[0]
    both = load_snapshots(engine, numbers.frames(app), [early, dt.date(2026, 11, 20)], numbers.calendar(app))
    part = both[both["snapshot_date"] == pd.Timestamp(early)].reset_index(drop=True)
    pd.testing.assert_frame_equal(plain(part), plain(rebuilt(app, early)), check_dtype=False)
    assert set(both["snapshot_date"]) == {pd.Timestamp(early), pd.Timestamp("2026-11-20")}


def test_the_weekly_job_stores_yesterday_once_a_week(org):
    app = org.app
    engine = db.engine_for(app)
    data, cal = numbers.frames(app), numbers.calendar(app)
    now = pd.Timestamp("2026-11-24 09:00", tz="UTC")
    assert last_complete_day(cal, now) == dt.date(2026, 11, 23)
    # the latest stored snapshot is 20 November: three days is not a week
    assert take_weekly_snapshot(engine, data, cal, now) is None
    assert take_weekly_snapshot(engine, data, cal, now + pd.Timedelta(days=4)) == dt.date(2026, 11, 27)
    assert take_weekly_snapshot(engine, data, cal, now + pd.Timedelta(days=5)) is None
    assert stored_dates(engine)[-2:] == [dt.date(2026, 11, 20), dt.date(2026, 11, 27)]


def test_the_cli_stores_a_day_and_refuses_a_bad_or_unfinished_one(org):
    runner = org.app.test_cli_runner()
    ok = runner.invoke(args=["snapshot-pipeline", "--date", "2026-11-13"])
    assert ok.exit_code == 0 and "Stored the pipeline snapshot of 2026-11-13" in ok.output, ok.output
    assert dt.date(2026, 11, 13) in stored_dates(db.engine_for(org.app))
    bad = runner.invoke(args=["snapshot-pipeline", "--date", "13.11.2026"])
    assert bad.exit_code != 0 and "--date" in bad.output
    future = runner.invoke(args=["snapshot-pipeline", "--date", "2099-01-01"])
    assert future.exit_code != 0 and "has not ended yet" in future.output
