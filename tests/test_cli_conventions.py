"""Command-line conventions (issue 13): --version, -h, completion, NO_COLOR, `-` for stdout,
one meaning per option name, documented exit codes, data printed as data."""

from __future__ import annotations

import click
import pytest
from typer.main import get_command
from typer.testing import CliRunner

import kgraph
from kgraph import errors
from kgraph.cli import app

runner = CliRunner()
QUOTE = "shown [to be] effective [bold]really[/bold]"


@pytest.fixture
def in_built(mini_built, monkeypatch):
    project, _ = mini_built
    monkeypatch.chdir(project.root)
    return project


def test_version_and_short_help():
    assert runner.invoke(app, ["--version"]).stdout.strip() == f"kgraph {kgraph.__version__}"
    for flag in ("-h", "--help"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0 and "Commands" in result.stdout
        assert runner.invoke(app, ["query", flag]).exit_code == 0


def test_the_app_for_one_command_is_that_command_of_the_whole_app():
    """main() builds only the command asked for (issue 10): same help, same options."""
    from kgraph.cli import app_for

    whole = get_command(app)
    for name in whole.commands:
        lean = get_command(app_for([name, "--help"]))
        assert list(lean.commands) == [name]
        assert runner.invoke(app_for([name]), [name, "--help"]).stdout == runner.invoke(app, [name, "--help"]).stdout
        assert [p.name for p in lean.params] == [p.name for p in whole.params]  # --version, completion
    for args in ([], ["--help"], ["--version"], ["quer"], ["--version", "query"]):
        assert app_for(args) is app


def test_shell_completion_is_offered():
    help_text = runner.invoke(app, ["--help"]).stdout
    assert "--install-completion" in help_text and "--show-completion" in help_text


def test_exit_codes_are_distinct_and_listed_in_help():
    help_text = runner.invoke(app, ["--help"]).stdout
    codes = dict(errors.EXIT_CODES)
    for code, meaning in codes.items():
        assert f"{code}  {meaning}" in help_text
    assert errors.DataError("x").exit_code == errors.ValidationFailed.exit_code == 3
    assert errors.QueryError("x").exit_code == errors.QueryTimeout("x").exit_code == 4
    assert errors.OutputError("x").exit_code == 5
    assert errors.KgraphError("x").exit_code == 2
    every = {cls.exit_code for cls in vars(errors).values()
             if isinstance(cls, type) and issubclass(cls, errors.KgraphError)}
    assert every <= set(codes)


def _options(command: click.Command) -> dict[str, click.Parameter]:
    return {name: p for p in command.params for name in getattr(p, "opts", [])}


def test_out_means_what_the_command_writes():
    group = get_command(app)
    for name, command in group.commands.items():
        opts = _options(command)
        if "--out" in opts:
            # what the command writes (a file, a folder, - for stdout), never the graph it reads
            assert opts["--out"].help and "built graph" not in opts["--out"].help, name
            assert opts["--out"].help != _options(group.commands["stats"])["--graph-dir"].help, name
    for name in ("stats", "query", "show", "neighbors", "path", "central", "serve"):
        assert "--graph-dir" in _options(group.commands[name]), name


def _as_terminal(monkeypatch, **env):
    monkeypatch.setattr("kgraph.cli._is_tty", lambda: True)
    monkeypatch.setattr("kgraph.terminal.is_tty", lambda: True)  # tables (kgraph.terminal.print_table)
    monkeypatch.setenv("FORCE_COLOR", "1")  # rich writes styles though CliRunner is no terminal
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.delenv("NO_COLOR", raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


def test_table_cells_are_data_not_markup(in_built, monkeypatch):
    _as_terminal(monkeypatch)
    result = runner.invoke(app, ["query", f'SELECT ?quote WHERE {{ BIND("{QUOTE}" AS ?quote) }}'])
    assert result.exit_code == 0, result.output
    assert "shown [to be] effective" in result.stdout
    assert "[bold]really[/bold]" in result.stdout


def test_no_color_means_no_styles_at_all(in_built, monkeypatch):
    query = ["query", "SELECT ?c WHERE { kgr:ketamine kg:treats ?c }"]
    _as_terminal(monkeypatch)
    assert "\x1b[" in runner.invoke(app, query).stdout  # the table header is bold on a terminal
    _as_terminal(monkeypatch, NO_COLOR="1")
    result = runner.invoke(app, query)
    assert result.exit_code == 0 and "kgr:ptsd" in result.stdout
    assert "\x1b[" not in result.stdout


def test_viz_out_dash_writes_stdout_not_a_file(in_built):
    result = runner.invoke(app, ["viz", "--out", "-"])
    assert result.exit_code == 0, result.output
    assert result.stdout.lstrip().lower().startswith("<!doctype html>")
    assert not (in_built.root / "-").exists()


def test_query_out_dash_writes_stdout(in_built):
    result = runner.invoke(app, ["query", "ASK { ?s ?p ?o }", "--format", "json", "--out", "-"])
    assert result.exit_code == 0, result.output
    assert '"boolean": true' in result.stdout.replace('":true', '": true')
    assert not (in_built.root / "-").exists()


def test_report_out_dash_prints(in_built):
    printed = runner.invoke(app, ["report", "ketamine", "--format", "md"])
    dashed = runner.invoke(app, ["report", "ketamine", "--format", "md", "--out", "-"])
    assert dashed.exit_code == 0, dashed.output
    assert dashed.stdout == printed.stdout and "ketamine" in dashed.stdout
    assert not (in_built.root / "-").exists()


def test_validation_problems_print_data_as_text(mini_root, monkeypatch):
    claims = mini_root / "data" / "claims" / "001.yaml"
    text = claims.read_text(encoding="utf-8")
    assert "    object: nmda-receptor\n" in text
    claims.write_text(text.replace("    object: nmda-receptor\n", "    object: '[red]nowhere[/red]'\n", 1),
                      encoding="utf-8")
    monkeypatch.chdir(mini_root)
    result = runner.invoke(app, ["validate", "--corpus", str(mini_root / "corpus")])
    assert result.exit_code == 3, result.output
    assert "[red]nowhere[/red]" in result.stdout, result.stdout


def test_ci_runs_the_readme_test_command_verbatim():
    """The README's quick start has two commands; .ci/run runs the second (the whole suite) as written."""
    import re

    from conftest import REPO

    blocks = re.findall(r"```sh\n(.*?)\n```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    command = blocks[1].strip()
    assert "pytest -m ''" in command  # -m '' overrides the default suite's marker filter: every test
    assert command in (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
