"""Storage: migrations agree with the models; configuration and the instance folder."""

from __future__ import annotations

import os
import stat

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlmodel import SQLModel

from scoreboard import db


def test_models_and_migrations_agree(app):
    """After `upgrade head` the database has exactly the tables and columns the models declare."""
    engine = db.engine_for(app)
    with engine.connect() as conn:
        diff = compare_metadata(
            MigrationContext.configure(conn, opts={"compare_type": True}), SQLModel.metadata
        )
    assert diff == []
    tables = set(inspect(engine).get_table_names()) - {"alembic_version"}
    assert tables == set(SQLModel.metadata.tables)


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch, app_factory):
    monkeypatch.delenv("MATCHDAY_SECRET_KEY", raising=False)
    url = f"sqlite:///{tmp_path / 'm.db'}"
    first = app_factory(url, SECRET_KEY=None)
    key_file = tmp_path / "instance" / "secret_key"
    assert key_file.exists() and stat.S_IMODE(os.stat(key_file).st_mode) == 0o600
    second = app_factory(url, SECRET_KEY=None)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"] == key_file.read_text()
    assert len(first.config["SECRET_KEY"]) == 64


def test_environment_overrides_defaults_and_instance_config_overrides_environment(
    tmp_path, monkeypatch, app_factory
):
    monkeypatch.setenv("MATCHDAY_PORT", "5055")
    monkeypatch.setenv("MATCHDAY_TIMEZONE", "Europe/Stockholm")
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "config.py").write_text('TIMEZONE = "Europe/Helsinki"\n')
    app = app_factory(f"sqlite:///{tmp_path / 'm.db'}")
    assert app.config["PORT"] == 5055  # parsed as JSON: an int
    assert app.config["TIMEZONE"] == "Europe/Helsinki"
    assert app.config["HOST"] == "127.0.0.1"  # default


def test_default_database_is_sqlite_in_the_instance_folder(tmp_path, monkeypatch, app_factory):
    monkeypatch.delenv("MATCHDAY_DATABASE_URL", raising=False)
    app = app_factory("", DATABASE_URL=None, AUTO_MIGRATE=None)
    assert app.config["DATABASE_URL"] == f"sqlite:///{tmp_path / 'instance' / 'matchday.db'}"
    assert (tmp_path / "instance" / "matchday.db").exists()  # migrated on start
