"""Docs and tests as one habit (Datasette's): these fail when something public is undocumented.

- Every function and class in ``metrics.__all__`` has a numpydoc docstring with an ``Examples``
  section holding a doctest (``--doctest-modules`` runs it), and every function a ``Returns``
  section; a function that returns a frame names its columns there.
- Every command of ``flask --app app --help`` that Matchday adds is in README.md's command table.
- README's test command is exactly the one ``.ci/run`` runs.
"""

from __future__ import annotations

import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import metrics

ROOT = Path(__file__).resolve().parent.parent
#: Commands Flask itself adds to every app.
FLASK_COMMANDS = {"routes", "run", "shell"}


def sections(doc: str) -> dict[str, str]:
    """numpydoc sections of a (dedented) docstring: header line, then a line of dashes."""
    lines = doc.splitlines()
    found: dict[str, str] = {}
    starts = [
        i
        for i in range(len(lines) - 1)
        if lines[i].strip() and re.fullmatch(r"-{3,}", lines[i + 1].strip() or "x")
    ]
    for k, i in enumerate(starts):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        found[lines[i].strip()] = "\n".join(lines[i + 2 : end])
    return found


def public_api() -> list[tuple[str, object]]:
    return [
        (name, getattr(metrics, name))
        for name in metrics.__all__
        if inspect.isfunction(getattr(metrics, name)) or inspect.isclass(getattr(metrics, name))
    ]


def test_sections_parser() -> None:
    doc = "Summary.\n\nReturns\n-------\nint\n    One.\n\nExamples\n--------\n>>> 1\n1"
    assert sections(doc) == {"Returns": "int\n    One.\n", "Examples": ">>> 1\n1"}


def test_every_public_metric_is_exported_once() -> None:
    assert len(metrics.__all__) == len(set(metrics.__all__))
    assert all(hasattr(metrics, name) for name in metrics.__all__)
    assert len(public_api()) >= 30


@pytest.mark.parametrize("name, obj", public_api(), ids=[n for n, _ in public_api()])
def test_public_metric_has_numpydoc_docstring_with_example(name: str, obj: object) -> None:
    doc = inspect.getdoc(obj)
    assert doc, f"metrics.{name} has no docstring"
    summary = doc.splitlines()[0]
    assert summary.strip() and not summary.endswith(","), f"metrics.{name}: first line should be a summary"
    found = sections(doc)
    assert "Examples" in found, f"metrics.{name}: no 'Examples' section (numpydoc)"
    assert re.search(r"^\s*>>> ", found["Examples"], re.M), f"metrics.{name}: Examples has no >>> line"
    if inspect.isfunction(obj):
        assert "Returns" in found, f"metrics.{name}: no 'Returns' section (numpydoc)"
        returns = found["Returns"].strip()
        assert returns, f"metrics.{name}: empty 'Returns' section"
        annotation = str(inspect.signature(obj).return_annotation)
        if "DataFrame" in annotation:
            named = re.findall(r"``[a-z_<>]+``", returns)
            assert "column" in returns or len(named) >= 2, (
                f"metrics.{name}: Returns does not name the columns"
            )


# ---------------------------------------------------------------- command line and README
def readme_commands() -> set[str]:
    table = re.findall(r"^\| `matchday ([a-z][a-z-]*)", (ROOT / "README.md").read_text(), re.M)
    return set(table)


def flask_help_commands(tmp_path: Path) -> set[str]:
    """Command names listed by ``flask --app app --help`` (an app on a throwaway instance)."""
    env = os.environ | {
        "MATCHDAY_INSTANCE_PATH": str(tmp_path / "instance"),
        "MATCHDAY_DATABASE_URL": f"sqlite:///{tmp_path / 'help.db'}",
        "MATCHDAY_DEMO": "false",
        "MATCHDAY_SIMULATOR": "false",
    }
    result = subprocess.run(
        [sys.executable, "-m", "flask", "--app", "app", "--help"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    listing = result.stdout.split("Commands:", 1)[1]
    return set(re.findall(r"^  ([a-z][a-z-]*)\s", listing, re.M))


def test_every_cli_command_is_in_the_readme_table(tmp_path: Path) -> None:
    commands = flask_help_commands(tmp_path) - FLASK_COMMANDS
    documented = readme_commands()
    assert {"seed-demo", "create-user", "serve"} <= commands
    missing = sorted(commands - documented)
    assert not missing, f"commands missing from README.md's command table: {missing}"
    stale = sorted(documented - commands)
    assert not stale, f"README.md documents commands that do not exist: {stale}"


def readme_opening_commands() -> list[str]:
    block = re.search(r"```bash\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    assert block, "README.md opens with a bash block"
    return [line for line in block.group(1).splitlines() if line.strip()]


def test_readme_opens_with_the_run_and_the_test_command() -> None:
    lines = readme_opening_commands()
    assert len(lines) == 2, lines
    run, test = lines
    assert run.endswith(".venv/bin/python app.py"), run
    assert test.endswith(".venv/bin/python -m pytest"), test
    # both install into the same fresh venv the same way; the test one adds the test extras
    assert run.split("&&")[0] == test.split("&&")[0]


def test_ci_runs_the_readme_test_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    commands = [line.strip() for line in ci if line.strip() and not line.lstrip().startswith("#")]
    _, test = readme_opening_commands()
    assert test in commands, f".ci/run does not run README's test command {test!r}"
    assert commands[-1] == test, ".ci/run ends with README's test command"
    assert (ROOT / "app.py").is_file()


def test_the_stats_doc_is_the_catalogue() -> None:
    """docs/stats.md carries the catalogue's table exactly (regenerate it with markdown_table())."""
    from metrics.catalogue import CATALOGUE, markdown_table

    doc = (ROOT / "docs" / "stats.md").read_text(encoding="utf-8")
    assert markdown_table() in doc
    assert all(f"`{key}`" in doc for key in CATALOGUE)


def test_the_power_table_in_the_stats_doc_is_computed() -> None:
    """docs/stats.md's power table is metrics.coaching.power's (printed by benchmarks/power.py)."""
    from metrics.coaching.power import power_markdown

    doc = (ROOT / "docs" / "stats.md").read_text(encoding="utf-8")
    assert power_markdown() in doc
    assert (ROOT / "benchmarks" / "power.py").is_file()
