"""The commands the README, the tutorial and the CLI page show, run as a user
would run them (issue 18), so that the pages cannot drift from the product.

From an empty directory, each page's files are written exactly as the page
shows them (a code block whose `:caption:` is a file name), and its commands
(the `$ ` lines of its `console` blocks) run in the page's order, each in a
process of its own as a shell would start it. Each command's exit status is
checked against the table here, which also lists the commands a page must
show, so that a command added to a page without its status fails.

What a page shows under a command is an excerpt of what it prints: runs of
lines, separated by `...` lines, that appear in the output in that order,
each run as consecutive lines. The pages show CPython 3.12's output, and say
so. On 3.12 every line is compared as shown (only pytest's durations are
left open). On other versions counts, opcodes and call paths differ, so only
the plugin's headline lines are looked for, with their numbers and opcode
names left open.

The runs load no other plugin than this one (as for a user who installed
only pytest-bytecount), which also keeps them fast: about 0.3 s of CPU each,
4 s for the whole file.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"

#: The interpreter whose output the pages show.
SHOWN_VERSION = (3, 12)
EXACT = sys.version_info[:2] == SHOWN_VERSION

#: A command a page shows to set up, which is not run here: the environment
#: running this test has the plugin installed already, and each page's
#: commands run in an empty directory of their own.
SET_UP = None

#: On versions other than 3.12, the lines looked for: the plugin's headlines.
HEADLINES = re.compile(
    r"instructions executed|spent the most|top opcodes:|hottest call path"
    r"|^\d[\d,]* measured|^(wrote|merged|recorded) |not budgeted:|varied between runs:"
)

#: A duration in pytest's closing line: never the same twice.
DURATION = re.compile(r"\bin \d+\.\d+s\b")

ELISION = "..."


@dataclass(frozen=True)
class Block:
    """A literal block of a page: its language, caption and dedented lines."""

    language: str
    caption: str
    lines: tuple[str, ...]


@dataclass(frozen=True)
class Command:
    """A `$ ` line of a console block and the lines shown under it."""

    line: str
    shown: tuple[str, ...]


def rst_blocks(path: Path) -> list[Block]:
    """The `.. code-block::` directives of an rst page, in order."""
    lines = path.read_text(encoding="utf-8").splitlines()
    blocks = []
    index = 0
    while index < len(lines):
        found = re.fullmatch(r"\.\. code-block:: *(\S*)", lines[index])
        index += 1
        if found is None:
            continue
        caption = ""
        while index < len(lines) and re.match(r" +:", lines[index]):
            option = re.fullmatch(r" +:caption: *(.+)", lines[index])
            if option is not None:
                caption = option[1].strip()
            index += 1
        body = []
        while index < len(lines) and (not lines[index] or lines[index].startswith(" ")):
            body.append(lines[index])
            index += 1
        text = textwrap.dedent("\n".join(body)).strip("\n")
        blocks.append(Block(found[1], caption, tuple(text.splitlines())))
    return blocks


def markdown_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown page, in order."""
    text = path.read_text(encoding="utf-8")
    return [
        Block(language, "", tuple(body.splitlines()))
        for language, body in re.findall(r"^```(\w*)\n(.*?)^```$", text, re.M | re.S)
    ]


def commands(block: Block) -> list[Command]:
    """The commands of a console block, each with the lines under it."""
    found: list[Command] = []
    for line in block.lines:
        if line.startswith("$ "):
            found.append(Command(line[2:], ()))
        else:
            assert found, f"a console block starts with output, not a command: {line!r}"
            found[-1] = Command(found[-1].line, (*found[-1].shown, line))
    return found


#: Variables of this run that a user's shell would not have: options for
#: this suite's pytest, colours, GitHub Actions (where the plugin annotates
#: the job) and coverage measuring subprocesses.
NOT_PASSED_ON = ("PYTEST_ADDOPTS", "FORCE_COLOR", "GITHUB_", "COV_CORE_", "COVERAGE_PROCESS_START")


def environment() -> dict[str, str]:
    """The environment of a run: this one's, less `NOT_PASSED_ON`, with only
    this plugin loaded, a terminal 80 columns wide, UTF-8 output, and no
    bytecode written (the pages rewrite a module within the same second)."""
    env = {name: value for name, value in os.environ.items() if not name.startswith(NOT_PASSED_ON)}
    env |= {
        "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
        "PYTEST_PLUGINS": "pytest_bytecount.plugin",
        "COLUMNS": "80",
        "PY_COLORS": "0",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    return env


#: The console scripts the pages run, and the module behind each.
SCRIPTS = {"pytest": "pytest", "pytest-bytecount": "pytest_bytecount"}


def script(name: str) -> list[str]:
    """How to start the console script `name` installed beside this
    interpreter, else the module behind it (an interpreter with the
    package on its path but not installed)."""
    found = shutil.which(name, path=os.path.dirname(sys.executable))
    return [found] if found is not None else [sys.executable, "-m", SCRIPTS[name]]


def run(line: str, cwd: Path) -> tuple[int, str, str]:
    """Run one command line as a shell would (leading `NAME=value`s set
    variables; `cat` is read here): the exit status, stdout and stderr."""
    words = shlex.split(line)
    env = environment()
    while re.fullmatch(r"[A-Z_]+=.*", words[0]):
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    program, arguments = words[0], words[1:]
    if program == "cat":
        return 0, "".join((cwd / name).read_text(encoding="utf-8") for name in arguments), ""
    if program == "python":
        argv = [sys.executable, *arguments]
    elif program in SCRIPTS:
        argv = [*script(program), *arguments]
    else:
        raise AssertionError(f"{line!r}: this test does not know how to run {program!r}")
    done = subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, encoding="utf-8", check=False
    )
    return done.returncode, done.stdout, done.stderr


def excerpts(shown: tuple[str, ...]) -> list[list[str]]:
    """The runs of lines between `...` lines."""
    runs: list[list[str]] = [[]]
    for line in shown:
        if line.strip() == ELISION:
            runs.append([])
        else:
            runs[-1].append(line)
    return [lines for lines in runs if lines]


def shape(line: str) -> re.Pattern[str]:
    """A pattern for `line` with its numbers, opcode names and runs of
    spaces left open: the line as another interpreter prints it."""
    parts = re.split(r"(\d[\d,]*(?:\.\d+)?|\b[A-Z][A-Z_]+\b| +)", line.rstrip())
    pattern = []
    for part in parts:
        if re.fullmatch(r"\d[\d,]*(?:\.\d+)?", part):
            pattern.append(r"\d[\d,]*(?:\.\d+)?")
        elif re.fullmatch(r"[A-Z][A-Z_]+", part):
            pattern.append(r"[A-Z][A-Z_0-9]+")
        elif part and not part.strip(" "):
            pattern.append(" +")
        else:
            pattern.append(re.escape(part))
    return re.compile("".join(pattern))


def normalized(line: str) -> str:
    return DURATION.sub("in N.NNs", line.rstrip())


def assert_shown(shown: tuple[str, ...], output: str, what: str) -> int:
    """The lines `shown` appear in `output` as the module docstring says:
    on 3.12 every run of them, consecutive and in order; elsewhere the
    headlines among them, in order, in their shapes. Returns how many lines
    were looked for."""
    actual = [normalized(line) for line in output.splitlines()]
    where = 0
    checked = 0
    if EXACT:
        for lines in excerpts(shown):
            expected = [normalized(line) for line in lines]
            for start in range(where, len(actual) - len(expected) + 1):
                if actual[start : start + len(expected)] == expected:
                    where = start + len(expected)
                    break
            else:
                pytest.fail(
                    f"{what}: these lines are not in the output (after line {where + 1}):\n"
                    + "\n".join(expected)
                    + "\n--- the output:\n"
                    + "\n".join(actual)
                )
            checked += len(expected)
        return checked
    for line in shown:
        if not HEADLINES.search(line):
            continue
        checked += 1
        pattern = shape(line)
        for index in range(where, len(actual)):
            if pattern.fullmatch(actual[index]):
                where = index + 1
                break
        else:
            pytest.fail(
                f"{what}: no line shaped like this one in the output (after line {where + 1}):\n"
                f"{line}\n--- the output:\n" + "\n".join(actual)
            )
    return checked


def play(page: Path, expected: list[tuple[str, int | None]], cwd: Path) -> None:
    """Write `page`'s files and run its commands in `cwd`, in the page's
    order, checking each command's exit status and output."""
    shown = [line for line, _ in expected]
    found = [
        command.line
        for block in rst_blocks(page)
        if block.language == "console"
        for command in commands(block)
    ]
    assert found == shown, f"{page.name} shows other commands than this test runs"
    statuses = iter(status for _, status in expected)
    checked = 0
    for block in rst_blocks(page):
        if block.caption:
            (cwd / block.caption).write_text("\n".join(block.lines) + "\n", encoding="utf-8")
        elif block.language == "console":
            for command in commands(block):
                status = next(statuses)
                if status is SET_UP:
                    continue
                returned, stdout, stderr = run(command.line, cwd)
                what = f"{page.name}: $ {command.line}"
                assert returned == status, f"{what}: exit status {returned}\n{stdout}{stderr}"
                checked += assert_shown(command.shown, stdout, what)
    assert checked, f"{page.name}: no output shown was looked for"


TUTORIAL = [
    ("python -m venv .venv", SET_UP),
    (". .venv/bin/activate", SET_UP),
    ("python -m pip install pytest-bytecount", SET_UP),
    ("mkdir slug-tutorial", SET_UP),
    ("cd slug-tutorial", SET_UP),
    ('python -c "import dis, slug; dis.dis(slug.slugify)"', 0),
    ("pytest -q -s", 0),
    ("pytest -q", 0),
    ("pytest -q", 1),
    ("pytest -q test_growth.py", 0),
    # A loop inside a loop: the growth group fails.
    ("pytest -q test_growth.py", 1),
    ("pytest -q --bytecount-profile=prof", 1),
    ("cat prof/test_slug.py__test_slugify.folded", 0),
    ("pytest -q --bytecount-html=bytecount.html --bytecount-report=before.json", 1),
    # The change that dropped repeated words, compared with the report.
    ("pytest -q --bytecount-compare=before.json --bytecount-html=bytecount.html", 1),
]


def test_the_tutorial_runs_as_it_shows(tmp_path: Path) -> None:
    play(DOCS / "tutorial.rst", TUTORIAL, tmp_path)
    assert (tmp_path / "prof" / "bytecount.speedscope.json").is_file()
    page = (tmp_path / "bytecount.html").read_text(encoding="utf-8")
    assert '<section id="source">' in page
    assert "What changed since before.json" in page


CLI = [
    ('pytest --bytecount -k "test_small or test_params" --bytecount-report=shard-1.json', 0),
    ('pytest --bytecount -k "not (test_small or test_params)" --bytecount-report=shard-2.json', 0),
    ("pytest-bytecount merge -o merged.json shard-1.json shard-2.json", 0),
    ("pytest-bytecount record merged.json", 0),
    # Two tests go over the budgets just recorded.
    ("EXTRA_WORK=3 pytest --bytecount --bytecount-report=again.json", 1),
    ("pytest-bytecount record merged.json again.json", 0),
    ("cat bytecount.toml", 0),
]


def test_the_cli_pages_merge_and_record_run_as_they_show(tmp_path: Path) -> None:
    play(DOCS / "cli.rst", CLI, tmp_path)


#: The commands the README shows the output of, on the example project.
EXAMPLE_RUN = "PYTHONHASHSEED=0 pytest -v --bytecount-report=bytecount.json"
EXPLAIN_WORDS = "pytest --bytecount-explain -k test_words_within_budget"
EXPLAIN_SLOW = "pytest --bytecount-explain -k test_longest_word_slow"


def readme_block(blocks: list[Block], language: str, first: str) -> Block:
    """The one block of the README in `language` whose first line matches `first`."""
    found = [b for b in blocks if b.language == language and re.match(first, b.lines[0])]
    assert len(found) == 1, f"README.md: {len(found)} {language or 'plain'} blocks match {first!r}"
    return found[0]


def test_the_readmes_example_runs_as_it_shows(tmp_path: Path) -> None:
    readme = ROOT / "README.md"
    prose = " ".join(readme.read_text(encoding="utf-8").split())
    for command in (EXAMPLE_RUN, EXPLAIN_WORDS, EXPLAIN_SLOW):
        assert f"`{command}`" in prose, f"README.md no longer shows `{command}`"
    blocks = markdown_blocks(readme)

    # The marker example is the example project's test, less its comments.
    marker = readme_block(blocks, "python", r"@pytest\.mark\.max_instructions\(500\)")
    source = iter((ROOT / "examples" / "tests" / "test_textstats.py").read_text().splitlines())
    for line in marker.lines:
        assert line in source, f"README.md: {line!r} is not in examples/tests/test_textstats.py"

    project = tmp_path / "examples"
    shutil.copytree(
        ROOT / "examples",
        project,
        ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache", "bytecount.json"),
    )
    status, stdout, stderr = run(EXAMPLE_RUN, project)
    assert status == 1, f"{EXAMPLE_RUN}: exit status {status}\n{stdout}{stderr}"
    summary = readme_block(blocks, "", r"-+ bytecount \(cpython-\d+\) -+$")
    assert assert_shown(summary.lines, stdout, f"README.md: {EXAMPLE_RUN}")
    failure = readme_block(blocks, "", r"bytecount: [\d,]+ instructions executed, over the limit")
    assert assert_shown(failure.lines, stdout, f"README.md: {EXAMPLE_RUN}")

    for command, first, expected in (
        (EXPLAIN_WORDS, r"tests/test_textstats\.py::test_words_within_budget$", 0),
        (EXPLAIN_SLOW, r"  calls into C \(", 1),
    ):
        status, stdout, stderr = run(command, project)
        assert status == expected, f"{command}: exit status {status}\n{stdout}{stderr}"
        shown = readme_block(blocks, "", first).lines
        assert assert_shown(shown, stdout, f"README.md: {command}")
