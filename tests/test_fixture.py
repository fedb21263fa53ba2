"""The `bytecount` fixture and `pytest_bytecount.measure`: SPEC §3."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest
from helpers import counts, read_report


def test_measure_call_form_last_and_sum_work_as_documented(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def tokenize(text):
            return text.split()

        def test_tokenize(bytecount):
            data = "a b c " * 10  # not measured
            with bytecount.measure() as m:
                tokens = tokenize(data)
            assert len(tokens) == 30
            assert m.instructions > 0
            assert sum(m.by_opcode.values()) == m.instructions

            result = bytecount(tokenize, data)
            assert result == tokens
            assert bytecount.last.instructions < m.instructions  # no with-statement overhead
            assert bytecount.instructions == m.instructions + bytecount.last.instructions
            assert len(bytecount.measurements) == 2
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_call_form_counts_exactly_the_callee(pytester: pytest.Pytester) -> None:
    # `return 1` is LOAD_CONST + RETURN_VALUE, except on 3.12/3.13, which have a
    # single RETURN_CONST; 3.14 removed it again (LOAD_SMALL_INT + RETURN_VALUE).
    expected = 1 if sys.version_info[:2] in ((3, 12), (3, 13)) else 2
    pytester.makepyfile(
        f"""
        def one():
            return 1

        def test_tiny(bytecount):
            bytecount(one)
            assert bytecount.last.instructions == {expected}
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_an_instruction_with_an_extended_arg_prefix_is_named_as_the_interpreter_reports_it(
    pytester: pytest.Pytester,
) -> None:
    # `y = 999.5` loads the 301st constant: its LOAD_CONST needs an
    # EXTENDED_ARG prefix. Up to 3.11 the interpreter reports the pair as one
    # instruction, LOAD_CONST with its full argument; from 3.12 on, as two.
    prefix_events = 0 if sys.version_info < (3, 12) else 1
    pytester.makepyfile(
        f"""
        SOURCE = (
            "def f(go=False):\\n    if go:\\n"
            + "".join(f"        x = {{i}}.5\\n" for i in range(300))
            + "    y = 999.5\\n    return y\\n"
        )
        namespace = {{}}
        exec(compile(SOURCE, "<many constants>", "exec"), namespace)

        def test_names(bytecount):
            bytecount(namespace["f"])
            by_opcode = bytecount.last.by_opcode
            assert by_opcode["LOAD_CONST"] == 1, by_opcode
            assert by_opcode.get("EXTENDED_ARG", 0) >= {prefix_events}, by_opcode
            if {prefix_events} == 0:
                assert "EXTENDED_ARG" not in by_opcode, by_opcode
            assert sum(by_opcode.values()) == bytecount.last.instructions
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_test_using_the_fixture_records_the_sum_of_its_measurements(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import json

        def work(n):
            return sum(range(n))

        def test_measured(bytecount):
            expensive_setup = [work(100) for _ in range(50)]
            bytecount(work, 10)
            bytecount(work, 10)
            with open("expected.json", "w") as f:
                json.dump(bytecount.instructions, f)
        """
    )
    report = pytester.path / "r.json"
    # With --bytecount the whole call would be measured too: the fixture sum wins.
    pytester.runpytest("--bytecount", f"--bytecount-report={report}").assert_outcomes(passed=1)
    (test,) = read_report(report)["tests"]
    expected = int((pytester.path / "expected.json").read_text())
    assert test["instructions"] == expected
    assert test["status"] == "new"


def test_measurements_nest_and_inner_ones_are_not_added_twice(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        def work():
            return sum(i for i in range(30))

        def test_nested(bytecount):
            with bytecount.measure() as outer:
                work()
                with bytecount.measure() as inner:
                    work()
                work()
            assert 0 < inner.instructions < outer.instructions
            assert outer.instructions > 2 * inner.instructions
            assert bytecount.measurements == (outer,)
            assert bytecount.instructions == outer.instructions
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_warm_leaves_first_use_costs_out(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
        import functools

        @functools.lru_cache(maxsize=None)
        def table(n):
            return [i * i for i in range(n)]

        def lookup(n):
            return table(n)[-1]

        def test_warm(bytecount):
            cold = bytecount.measure()
            with cold as cold_m:
                lookup(500)
            table.cache_clear()
            assert bytecount.warm(lookup, 500) == 499 * 499
            warm = bytecount.last
            assert warm.instructions < cold_m.instructions / 10
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_reading_a_measurement_before_its_block_closes_is_an_error(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        def test_open(bytecount):
            with bytecount.measure() as m:
                with pytest.raises(RuntimeError, match="still open"):
                    m.instructions
            assert m.instructions > 0
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_a_call_that_raises_is_still_measured_and_the_exception_propagates(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        def boom():
            x = 1
            raise KeyError(x)

        def test_raises(bytecount):
            with pytest.raises(KeyError):
                bytecount(boom)
            assert bytecount.last.instructions > 0
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_under_bytecount_disable_the_fixture_returns_zero_and_says_so(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.max_instructions(1)
        def test_marker_not_enforced(bytecount):
            assert bytecount.is_disabled
            assert bytecount(sum, range(100)) == 4950
            with bytecount.measure() as m:
                sorted(range(100), key=lambda x: -x)
            assert m.instructions == 0 and m.is_disabled
            assert "disabled" in repr(m)
            assert bytecount.instructions == 0
        """
    )
    report = pytester.path / "r.json"
    result = pytester.runpytest("--bytecount-disable", f"--bytecount-report={report}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["bytecount: disabled (--bytecount-disable)"])
    result.stdout.no_fnmatch_line("*bytecount (cpython*")
    assert read_report(report)["tests"] == []


def test_measure_works_outside_pytest() -> None:
    script = textwrap.dedent(
        """
        from pytest_bytecount import measure

        def work():
            return sorted(range(20), key=lambda x: -x)

        work()
        with measure() as m:
            work()
        with measure() as again:
            work()
        assert m.instructions == again.instructions > 20, (m, again)
        assert sum(m.by_opcode.values()) == m.instructions
        with measure(exclude=["__main__"]) as excluded:
            work()
        assert excluded.instructions == 0, excluded
        print(m.instructions)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 20


def test_closing_an_inner_measurement_adds_nothing_that_depends_on_its_content(
    pytester: pytest.Pytester,
) -> None:
    # The bookkeeping of a nested measurement runs inside the outer one; it
    # must not call Python code that the outer one would count.
    pytester.makepyfile(
        """
        def few_opcodes():
            return 1

        def many_opcodes():
            data = {"a": [1, 2, 3]}
            total = sum(x * 2 for x in data["a"] if x % 2) - len(data)
            try:
                raise KeyError(total)
            except KeyError as exc:
                return str(exc) + f"{total!r}"

        def test_overhead(bytecount):
            overheads = []
            for work in (few_opcodes, many_opcodes):
                with bytecount.measure() as outer:
                    with bytecount.measure() as inner:
                        work()
                overheads.append(outer.instructions - inner.instructions)
            assert overheads[0] == overheads[1]
        """
    )
    pytester.runpytest().assert_outcomes(passed=1)


def test_the_fixture_asked_for_by_getfixturevalue_alone_in_a_suite_still_records(
    pytester: pytest.Pytester,
) -> None:
    # Nothing collected asks for counting: the per-test hooks are not
    # registered, until the fixture is asked for at run time.
    pytester.makepyfile(
        """
        def test_1_plain():
            pass

        def work(n):
            return [i * i for i in range(n)]

        def test_2_dynamic(request):
            bytecount = request.getfixturevalue("bytecount")
            bytecount(work, 10)

        def test_3_plain_again():
            pass
        """
    )
    result = pytester.runpytest("--bytecount-report=r.json")
    result.assert_outcomes(passed=3)
    found = counts(read_report(pytester.path / "r.json"))
    assert [nodeid.partition("::")[2] for nodeid in found] == ["test_2_dynamic"]
    assert all(count > 0 for count in found.values())


@pytest.mark.parametrize(
    ("test", "watched"),
    [
        ("def test_plain():\n    pass\n", False),
        (
            "import pytest\n@pytest.mark.max_instructions(10**6)\ndef test_marked():\n    pass\n",
            True,
        ),
        ("def test_fixture(bytecount):\n    pass\n", True),
    ],
)
def test_the_per_test_hooks_are_registered_only_when_a_test_may_be_measured(
    pytester: pytest.Pytester, test: str, watched: bool
) -> None:
    pytester.makeconftest(
        """
        def pytest_sessionfinish(session):
            hooks = session.config.pluginmanager.get_plugin("bytecount-tests")
            print("WATCHED" if hooks is not None else "NOT WATCHED")
        """
    )
    pytester.makepyfile(test)
    result = pytester.runpytest("-s")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*WATCHED*" if watched else "*NOT WATCHED*"])
    if watched:
        result.stdout.no_fnmatch_line("*NOT WATCHED*")
