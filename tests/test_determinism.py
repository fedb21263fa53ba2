"""What makes a count vary from run to run, and what the plugin does about it:
the global random generator is seeded per test, and an unset hash seed is
said out loud (SPEC §1)."""

from __future__ import annotations

import pytest
from helpers import counts_by_name, read_report

DRAWS = """
import random

def test_a():
    # How much work is done depends on the numbers drawn.
    total = 0
    for _ in range(random.randint(5, 500)):
        total += random.random() > 0.5
    print("drew", random.random())

def test_b():
    assert sum(random.random() for _ in range(random.randint(5, 500))) >= 0
"""


def measured(pytester: pytest.Pytester, *args: str, subprocess: bool = False) -> dict[str, int]:
    report = pytester.path / "r.json"
    run = pytester.runpytest_subprocess if subprocess else pytester.runpytest
    result = run("--bytecount", f"--bytecount-report={report}", *args)
    assert result.ret == 0, result.stdout.str()
    return counts_by_name(report)


def test_a_test_drawing_from_random_counts_the_same_every_run_and_alone(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_draws=DRAWS)
    first = measured(pytester, subprocess=True)
    assert measured(pytester, subprocess=True) == first
    # Seeded from its own node id: what ran before it does not matter.
    assert measured(pytester, "-k", "test_b", subprocess=True) == {"test_b": first["test_b"]}
    assert measured(pytester, "-k", "test_a") == {"test_a": first["test_a"]}


CONTINUES_SEED = """
import random

random.seed(1)  # at import: the tests continue this sequence unless reseeded

def test_draw():
    expected = random.Random(1).random()
    print("continued" if random.random() == expected else "reseeded")
"""


@pytest.mark.parametrize(
    ("options", "seen", "header"),
    [
        (("--bytecount",), "reseeded", "random seeded per test"),
        (("--bytecount", "-o", "bytecount_seed_random=false"), "continued", "random not seeded *"),
        (("-p", "no:bytecount"), "continued", None),
    ],
)
def test_random_is_seeded_only_where_asked(
    pytester: pytest.Pytester, options: tuple[str, ...], seen: str, header: str | None
) -> None:
    pytester.makepyfile(test_draw=CONTINUES_SEED)
    result = pytester.runpytest("-s", *options)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"*{seen}*"])
    if header is not None:
        result.stdout.fnmatch_lines([f"bytecount: *; {header}*"])


def test_an_unmeasured_test_is_not_reseeded(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_draw=CONTINUES_SEED
        + "\n\n@__import__('pytest').mark.max_instructions(10_000)\ndef test_measured():\n"
        "    pass\n"
    )
    result = pytester.runpytest("-s", "-k", "test_draw or test_measured")
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines(["*continued*"])


def test_a_bad_seed_random_setting_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbytecount_seed_random = sometimes\n")
    pytester.makepyfile("def test_a(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*bytecount_seed_random: expected true or false, got 'sometimes'*"]
    )


def test_under_pytest_randomly_random_is_left_to_it(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_draw="""
        import random

        def test_draw():
            print("drew", random.random())
        """
    )
    drawn = {}
    for options in (["--bytecount"], ["-p", "no:bytecount"]):
        result = pytester.runpytest("-p", "randomly", "--randomly-seed=7", "-s", *options)
        result.assert_outcomes(passed=1)
        drawn[options[-1]] = [line for line in result.outlines if "drew" in line]
    result = pytester.runpytest("-p", "randomly", "--bytecount")
    result.stdout.fnmatch_lines(["bytecount: *; random seeded by pytest-randomly*"])
    assert drawn["--bytecount"] == drawn["no:bytecount"] != []


SET_OF_STRINGS = """
WORDS = {f"word{i}" for i in range(40)}

def test_iterates_a_set_of_strings():
    # Stops at the first short-enough word: where that is depends on the order.
    for n, word in enumerate(WORDS):
        if word.endswith("7"):
            break
    assert n >= 0
"""


def test_a_set_of_strings_counts_the_same_under_a_fixed_hash_seed(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_set=SET_OF_STRINGS)
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    first = measured(pytester, subprocess=True)
    assert measured(pytester, subprocess=True) == first
    report = read_report(pytester.path / "r.json")
    assert report["hash_seed"] == "0"


def test_without_a_hash_seed_the_header_says_what_varies_and_how_to_fix_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_set=SET_OF_STRINGS)
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    report = pytester.path / "r.json"
    result = pytester.runpytest_subprocess("--bytecount", f"--bytecount-report={report}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["bytecount: PYTHONHASHSEED is not set*sets of strings*PYTHONHASHSEED=0*"]
    )
    assert read_report(report)["hash_seed"] == "random"
    # Written as Python reads it, so that the schema's pattern holds.
    monkeypatch.setenv("PYTHONHASHSEED", "+123")
    result = pytester.runpytest_subprocess("--bytecount", f"--bytecount-report={report}")
    result.stdout.no_fnmatch_line("*PYTHONHASHSEED*")
    assert read_report(report)["hash_seed"] == "123"


@pytest.mark.parametrize(("seed", "warned"), [(None, True), ("0", False)])
def test_recording_budgets_without_a_hash_seed_warns(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, seed: str | None, warned: bool
) -> None:
    pytester.makepyfile(test_set=SET_OF_STRINGS)
    if seed is None:
        monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    else:
        monkeypatch.setenv("PYTHONHASHSEED", seed)
    result = pytester.runpytest_subprocess("--bytecount-update")
    assert result.ret == 0
    line = "*BytecountWarning: recording budgets with --bytecount-update: PYTHONHASHSEED is not*"
    if warned:
        result.stdout.fnmatch_lines([line])
    else:
        result.stdout.no_fnmatch_line(line)
    assert (pytester.path / "bytecount.toml").exists()


def test_under_filterwarnings_error_the_hash_seed_warning_is_a_usage_error(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A suite that makes warnings errors must see the reason, not a traceback.
    pytester.makepyfile(test_set=SET_OF_STRINGS)
    pytester.makeini("[pytest]\nfilterwarnings = error\n")
    monkeypatch.delenv("PYTHONHASHSEED", raising=False)
    result = pytester.runpytest_subprocess("--bytecount-update", "-p", "no:asyncio")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: recording budgets with --bytecount-update: PYTHONHASHSEED is not set*"
            "(a warning filter makes this an error)"
        ]
    )
    assert "INTERNALERROR" not in result.stdout.str() + result.stderr.str()
    assert not (pytester.path / "bytecount.toml").exists()


IMPORTS_IN_ITS_SPAN = """
import importlib

def test_imports():
    import fresh_module
    importlib.reload(fresh_module)
"""


def test_an_import_that_compiles_source_marks_the_count_unstable_until_cached(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytester.makepyfile(test_imports=IMPORTS_IN_ITS_SPAN, fresh_module="VALUE = 1\n")
    pytester.syspathinsert()
    report = pytester.path / "r.json"
    runs = []
    for write_bytecode in (False, True, True):
        if write_bytecode:
            monkeypatch.delenv("PYTHONDONTWRITEBYTECODE", raising=False)
        result = pytester.runpytest_subprocess("--bytecount", f"--bytecount-report={report}")
        result.assert_outcomes(passed=1)
        (entry,) = read_report(report)["tests"]
        runs.append((entry["instructions"], entry["unstable"]))
    # Never writing bytecode, every run compiles alike: nothing to warn of.
    assert runs[0] == (runs[0][0], None)
    # The first run that writes it compiles; the next reads the cache.
    assert runs[1][1] is not None
    assert runs[1][1].startswith("a module was imported from source during the span")
    assert runs[2][1] is None
    assert runs[2][0] < runs[1][0]
