"""`kgraph query` without typer (kgraph.launch, issue 10): the same output, messages and exit
status as the typer command, for the arguments it reads itself; typer for all others."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import kgraph

TREATS = "SELECT ?c WHERE { kgr:ketamine kg:treats ?c }"
#: runs an entry point as the console script would (argv[0] "kgraph": the same usage lines),
#: then says on the last line of stderr whether typer was imported
DRIVER = """import sys
sys.argv[0] = "kgraph"
from {module} import main
try:
    main()
finally:
    sys.stderr.write("\\ntyper imported: %s" % ("typer" in sys.modules))
"""


@pytest.fixture(scope="module")
def built_root(built_mini_root: Path) -> Path:
    return built_mini_root


def _run(root: Path, module: str, args: list[str], stdin: str | None) -> tuple[bytes, str, int, bool]:
    # this kgraph, wherever the test runs from
    env = {**os.environ, "PYTHONPATH": str(Path(kgraph.__file__).resolve().parents[1])}
    done = subprocess.run([sys.executable, "-c", DRIVER.format(module=module), "query", *args], cwd=root, env=env,
                          input=(stdin or "").encode(), capture_output=True, check=False, timeout=120)
    stderr, _, marker = done.stderr.decode().rpartition("\ntyper imported: ")
    return done.stdout, stderr, done.returncode, marker == "True"


CASES = {
    # (arguments, stdin): read by kgraph.launch itself
    "table": ([TREATS], None),
    "csv": ([TREATS, "--format", "csv"], None),
    "tsv, option first, --opt=value": (["--format=tsv", TREATS], None),
    "json (rdflib writes it)": ([TREATS, "--format", "json", "--timeout", "5"], None),
    "construct as turtle": (["CONSTRUCT { kgr:ketamine ?p ?o } WHERE { kgr:ketamine ?p ?o }"], None),
    "ask true, --exit-status": (["ASK { kgr:ketamine ?p ?o }", "--exit-status"], None),
    "ask false, --exit-status": (["ASK { kgr:ketamine kg:treats kgr:ketamine }", "--exit-status"], None),
    "named": (["--name", "treats", "-o", "-"], None),
    "stdin": (["-"], TREATS),
    # click's echo drops escape sequences from text written to anything but a terminal
    "escape codes in the data": (['SELECT ?x WHERE { BIND("\\u001B[1mbold\\u001B[0m" AS ?x) }'], None),
    "nothing matches (a note)": (["SELECT ?x WHERE { ?x kg:treats kgr:ketamine }"], None),
    "update refused": (["INSERT DATA { kgr:a kg:treats kgr:b }"], None),
    "service refused": (["SELECT * WHERE { SERVICE <http://example.org/> { ?s ?p ?o } }"], None),
    "syntax error": (["SELECT ?s WHERE { ?s ?p }"], None),
    "unknown name": (["--name", "treat"], None),
    "no query": ([], None),
    "two ways": ([TREATS, "--name", "treats"], None),
}
#: left to typer (its help, its usage errors, --reason)
TYPER_CASES = {
    "help": (["--help"], None),
    "bad format": ([TREATS, "--format", "excel"], None),
    "timeout out of range": ([TREATS, "--timeout", "0"], None),
    "timeout not a number": ([TREATS, "--timeout", "soon"], None),
    "missing value": ([TREATS, "--format"], None),
    "unknown option": ([TREATS, "--fromat", "csv"], None),
    "repeated option": ([TREATS, "--format", "csv", "--format", "tsv"], None),
    "two texts": ([TREATS, TREATS], None),
}


@pytest.mark.parametrize("case", [*CASES, *TYPER_CASES])
def test_the_console_script_answers_as_the_typer_command(built_root, case):
    args, stdin = CASES.get(case) or TYPER_CASES[case]
    out, err, code, typer_used = _run(built_root, "kgraph.launch", args, stdin)
    assert typer_used == (case in TYPER_CASES)
    expected = _run(built_root, "kgraph.cli", args, stdin)
    assert (out, err, code) == expected[:3]
    assert "Traceback" not in err


def test_the_options_read_without_typer_are_the_typer_commands():
    from typer.main import get_command

    from kgraph.cli import app
    from kgraph.querycmd import OPTIONS, QueryArgs

    command = get_command(app).commands["query"]
    params = {opt: p for p in command.params for opt in p.opts}
    for option, (field, kind) in OPTIONS.items():
        assert option in params, option
        assert params[option].name == field and field in QueryArgs._fields, option
        assert getattr(params[option], "is_flag", False) == (kind == "flag"), option
        assert params[option].default == getattr(QueryArgs(), field), option


@pytest.mark.parametrize("message, nl", [
    ("a\tb", True), ("\x1b[1mbold\x1b[0m and \x1b[31mred\x1b[0m", True), ("ünïcode ✓", True), ("", True),
    (b"x,y\r\n1,2\r\n", False), (b"", False), (b"\x1b[1m", True),
])
def test_echo_writes_what_typer_echo_writes(capsysbinary, message, nl):
    import typer

    from kgraph.terminal import echo

    echo(message, nl=nl)
    ours = capsysbinary.readouterr().out
    typer.echo(message, nl=nl)
    assert ours == capsysbinary.readouterr().out
