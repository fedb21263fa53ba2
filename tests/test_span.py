"""What the measured span of a test contains, and what it leaves out: SPEC §1."""

from __future__ import annotations

import sys
import weakref

import pytest
from helpers import MONITORING, PYTHON_TRACER, counts, counts_beside_threads, read_report


def test_fixture_setup_teardown_and_pytest_machinery_are_not_counted(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
        import pytest

        def spin():
            t = 0
            for i in range(20_000):
                t += i
            return t

        @pytest.fixture
        def busy():
            spin()
            yield 1
            spin()

        @pytest.mark.max_instructions(100)
        def test_one_addition(busy):
            assert busy + 1 == 2
        """
    )
    report = pytester.path / "r.json"
    pytester.runpytest(f"--bytecount-report={report}").assert_outcomes(passed=1)
    (test,) = read_report(report)["tests"]
    assert 0 < test["instructions"] < 100


def test_bytecount_exclude_leaves_matching_modules_out_but_counts_their_callees(
    pytester: pytest.Pytester,
) -> None:
    # Not named `helpers`: in-process runs would import the suite's own
    # tests/helpers.py, already in sys.modules, in its place.
    pytester.makepyfile(
        spinning="""
        def spin(callback):
            for i in range(1000):
                pass
            return callback()
        """,
        test_x="""
        import spinning

        def callee():
            return sum(i for i in range(10))

        def test_uses_helper():
            spinning.spin(callee)
        """,
    )
    plain = pytester.path / "plain.json"
    excluded = pytester.path / "excluded.json"
    pytester.runpytest("--bytecount", f"--bytecount-report={plain}").assert_outcomes(passed=1)
    pytester.makeini("[pytest]\nbytecount_exclude = spinning other.*\n")
    pytester.runpytest("--bytecount", f"--bytecount-report={excluded}").assert_outcomes(passed=1)
    (with_helper,) = read_report(plain)["tests"]
    (without,) = read_report(excluded)["tests"]
    functions = {f["function"] for f in without["top_functions"]}
    assert "spin" not in functions
    assert "callee" in functions  # a callee of excluded code is counted
    assert with_helper["instructions"] - without["instructions"] > 2000


def test_an_exclude_glob_matching_everything_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbytecount_exclude = *\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*bytecount_exclude: '*' would exclude every module*"])


@pytest.mark.parametrize(("ini", "enabled"), [("", False), ("bytecount_gc = true", True)])
def test_the_garbage_collector_is_paused_in_spans_unless_bytecount_gc(
    pytester: pytest.Pytester, ini: str, enabled: bool
) -> None:
    pytester.makeini(f"[pytest]\n{ini}\n")
    pytester.makepyfile(
        f"""
        import gc
        import pytest

        @pytest.mark.max_instructions(1000)
        def test_in_span():
            assert gc.isenabled() is {enabled}

        def test_outside_span():
            assert gc.isenabled()

        def test_fixture_block(bytecount):
            with bytecount.measure():
                state = gc.isenabled()
            assert state is {enabled}
            assert gc.isenabled()
        """
    )
    pytester.runpytest().assert_outcomes(passed=3)


#: A weakly keyed cache, as cloudpickle keeps one of code objects: whether an
#: entry for garbage of earlier work is still there at a span's start depends
#: on when the collector last ran, unless the plugin collects first.
WEAK_CACHE = """
import gc
import weakref

import pytest

cache = weakref.WeakValueDictionary()


@pytest.fixture(autouse=True, scope="module")
def collector_as_it_was():
    was = gc.isenabled()
    yield
    if was:
        gc.enable()  # pytester runs this in our process


class Node:
    def __init__(self):
        self.me = self  # cyclic: only the collector frees it


def test_leaves_garbage():
    gc.disable()  # so that nothing but the plugin collects it
    cache["key"] = Node()


@pytest.mark.max_instructions(10_000)
def test_finds_the_cache_as_the_collector_left_it():
    assert ("key" in cache) is EXPECTED


def test_a_fixture_block_finds_it_the_same_way(bytecount):
    cache["again"] = Node()
    with bytecount.measure():
        found = "again" in cache
    assert found is EXPECTED
"""


@pytest.mark.parametrize(("mode", "kept"), [("false", True), ("collect", False)])
def test_bytecount_gc_collect_frees_garbage_before_each_span(
    pytester: pytest.Pytester, mode: str, kept: bool
) -> None:
    pytester.makeini(f"[pytest]\nbytecount_gc = {mode}\n")
    pytester.makepyfile(WEAK_CACHE.replace("EXPECTED", str(kept)))
    pytester.runpytest("-p", "no:randomly").assert_outcomes(passed=3)


def test_a_bad_bytecount_gc_names_the_values_it_takes(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbytecount_gc = sometimes\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: bytecount_gc: expected true, false or collect, got 'sometimes'"]
    )


#: Cyclic garbage whose finalizer runs Python code, made just before a span
#: (after a collection, and with the collector's first threshold raised until
#: the measured work starts, so that it is surely still there when the span
#: opens, whatever opening it allocates: a snapshot of every other thread,
#: say), and measured work that allocates far more container objects than
#: that. Each finalizer records whether it ran inside the measured work.
GARBAGE_AROUND_A_SPAN = """
import gc
import os
import pytest

KEEP_GC = os.environ["KEEP_GC"] == "1"
IN_SPAN = [False]
FINALIZED_IN_SPAN = []

class Cyclic:
    def __init__(self):
        self.me = self

    def __del__(self):
        FINALIZED_IN_SPAN.append(IN_SPAN[0])

def leave_garbage():
    gc.collect()
    gc.set_threshold(50_000)  # until allocate() starts
    FINALIZED_IN_SPAN.clear()
    for _ in range(100):
        Cyclic()

THRESHOLD = gc.get_threshold()

def allocate():
    gc.set_threshold(*THRESHOLD)
    IN_SPAN[0] = True
    data = [[i] for i in range(200_000)]
    IN_SPAN[0] = False
    return data

def check_finalizers():
    gc.collect()
    assert len(FINALIZED_IN_SPAN) == 100
    # With the collector running, the measured work collects the garbage
    # (the control); paused, it never does.
    assert (True in FINALIZED_IN_SPAN) is KEEP_GC

def test_block_clean(bytecount):
    gc.collect()
    bytecount(allocate)

def test_block_with_garbage(bytecount):
    leave_garbage()
    bytecount(allocate)
    check_finalizers()

@pytest.fixture
def clean():
    gc.collect()

@pytest.fixture
def garbage():
    # pytest allocates between set-up and the test call: leave_garbage()
    # keeps the collector from running there, allocate() lets it run again.
    leave_garbage()
    yield
    gc.set_threshold(*THRESHOLD)
    check_finalizers()

@pytest.mark.max_instructions(10**7)
def test_whole_clean(clean):
    allocate()

@pytest.mark.max_instructions(10**7)
def test_whole_with_garbage(garbage):
    allocate()
"""


@pytest.mark.parametrize("keep_gc", [False, True])
def test_garbage_made_before_a_span_is_never_finalized_inside_it(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, keep_gc: bool
) -> None:
    pytester.makepyfile(test_garbage=GARBAGE_AROUND_A_SPAN)
    monkeypatch.setenv("KEEP_GC", "1" if keep_gc else "0")
    ini = ["-o", "bytecount_gc=true"] if keep_gc else []
    pytester.runpytest(*ini, "--bytecount-report=report.json").assert_outcomes(passed=4)
    if not keep_gc:
        found = counts(read_report(pytester.path / "report.json"))
        count = {nodeid.partition("::")[2]: number for nodeid, number in found.items()}
        assert count["test_block_with_garbage"] == count["test_block_clean"]
        assert count["test_whole_with_garbage"] == count["test_whole_clean"]


THREAD_TESTS = """
import threading

def spin():
    t = 0
    for i in range(100_000):
        t += i

def idle():
    pass

def run_in_thread(target):
    thread = threading.Thread(target=target)
    thread.start()
    thread.join()

def test_spinning_thread(bytecount):
    bytecount(run_in_thread, spin)

def test_idle_thread(bytecount):
    bytecount(run_in_thread, idle)
"""


def test_a_thread_doing_100000_iterations_adds_nothing_to_the_test_s_count(
    pytester: pytest.Pytester,
) -> None:
    for _ in range(2):
        found = counts_beside_threads(pytester, THREAD_TESTS, passed=2)
        assert found["test_spinning_thread"] == found["test_idle_thread"] > 0


SHARED_CODE_TESTS = """
import sys
import threading

sys.setswitchinterval(1e-6)  # threads take turns as often as they can

def shared_loop(n, flag):
    # No calls inside: a thread looping here starts no frame, so nothing but
    # its instructions shows it is there.
    t = 0
    while flag[0] or n > 0:
        n -= 1
        t += 1
    return t

def idle(n, flag):
    pass

def test_alone(bytecount):
    bytecount(shared_loop, 20_000, [False])

def test_beside_a_thread_already_in_the_same_code(bytecount):
    flag = [True]
    thread = threading.Thread(target=shared_loop, args=(0, flag))
    thread.start()
    while thread.is_alive() and not sys._current_frames().get(thread.ident):
        pass
    try:
        bytecount(shared_loop, 20_000, [False])
    finally:
        flag[0] = False
        thread.join()

def run_beside(target):
    flag = [True]
    thread = threading.Thread(target=target, args=(0, flag))
    thread.start()
    try:
        shared_loop(20_000, [False])
    finally:
        flag[0] = False
        thread.join()

def test_beside_a_thread_started_into_the_same_code(bytecount):
    bytecount(run_beside, shared_loop)

def test_beside_a_thread_started_into_other_code(bytecount):
    bytecount(run_beside, idle)
"""


def test_another_thread_running_the_same_counted_code_adds_nothing_to_the_count(
    pytester: pytest.Pytester,
) -> None:
    # Both cores count only the test's thread; the Python core skips that
    # check while no other thread can reach counted code, so this is where
    # it would go wrong: a thread already looping in the measured function,
    # or started into it during the span.
    found = counts_beside_threads(pytester, SHARED_CODE_TESTS, passed=4)
    assert found["test_beside_a_thread_already_in_the_same_code"] == found["test_alone"] > 20_000
    assert (
        found["test_beside_a_thread_started_into_the_same_code"]
        == found["test_beside_a_thread_started_into_other_code"]
        > found["test_alone"]
    )


@pytest.mark.skipif(not MONITORING, reason="counting all threads needs sys.monitoring")
def test_bytecount_threads_all_counts_the_other_threads_too(pytester: pytest.Pytester) -> None:
    found = counts_beside_threads(pytester, THREAD_TESTS, passed=2, ini="bytecount_threads = all\n")
    # 100,000 iterations of at least four instructions each.
    assert found["test_spinning_thread"] - found["test_idle_thread"] > 400_000


@pytest.mark.skipif(MONITORING, reason="settrace engine: 3.10/3.11")
def test_bytecount_threads_all_is_refused_where_it_cannot_be_done(
    pytester: pytest.Pytester,
) -> None:
    pytester.makeini("[pytest]\nbytecount_threads = all\n")
    pytester.makepyfile(test_threads=THREAD_TESTS)
    result = pytester.runpytest()
    result.assert_outcomes(errors=2)
    result.stdout.fnmatch_lines(
        ["*bytecount_threads = all: * counts one thread only (3.12+ needed)*"]
    )


def test_a_bad_bytecount_threads_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nbytecount_threads = some\n")
    pytester.makepyfile("def test_x(): pass")
    result = pytester.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: bytecount_threads: expected 'test' or 'all', got 'some'"])


#: The same code measured in several spans, each counted differently: by
#: instruction, by block (the engine then disables the locations inside
#: blocks), as the code of a frame already running when a span opens (by
#: instruction again), under an exclusion, and as a generator resumed in one
#: span after another. Fresh code objects, compiled from the same source,
#: give the counts a code object with no history gives.
SPANS_IN_A_ROW = """
import sys
import pytest
from pytest_bytecount import measure

SOURCE = '''
from pytest_bytecount import measure

def busy(n):
    total = 0
    for i in range(n):
        if i % 3:
            total += i
    return total

def opens_a_span(n):
    total = busy(n)
    with measure() as inner:
        for i in range(n):
            if i % 3:
                total += i
    return inner.instructions

def squares():
    n = 0
    while True:
        n += 1
        yield n * n
'''

def fresh(name):
    namespace = {"__name__": name}
    exec(compile(SOURCE, name + ".py", "exec"), namespace)
    return namespace

@pytest.fixture(autouse=True)
def analyse_early(monkeypatch):
    if sys.version_info >= (3, 12):  # count by block from the second span on
        from pytest_bytecount.engine import monitoring
        monkeypatch.setattr(monitoring, "ANALYSE_AFTER", 1)

def count(fn, *args, **options):
    with measure(**options) as m:
        fn(*args)
    return m.instructions

def test_by_block_then_as_a_running_frame():
    used, new = fresh("used"), fresh("new")
    for _ in range(3):  # by instruction, then by block
        assert count(used["opens_a_span"], 50) == count(new["opens_a_span"], 50)
    # Outside any span, the function opens one itself: its own frame is
    # already running then, counted by instruction, locations disabled
    # before or not.
    assert used["opens_a_span"](50) == fresh("newer")["opens_a_span"](50)

def test_excluded_then_counted():
    module = fresh("elsewhere")
    assert count(module["busy"], 50, exclude=["elsewhere"]) < 20
    assert count(module["busy"], 50) == count(fresh("other")["busy"], 50)

def test_a_generator_resumed_span_after_span():
    generator = fresh("gen")["squares"]()
    next(generator)
    counts = [count(next, generator) for _ in range(4)]
    assert counts[0] > 0
    assert counts == [counts[0]] * 4
"""


def test_a_span_counts_every_instruction_whatever_earlier_spans_disabled(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_spans=SPANS_IN_A_ROW)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


#: Code objects made and dropped inside one span, excluded and counted in
#: turn, so that a counted one may get the address of an excluded one that
#: died: it must be counted all the same.
CODE_MADE_AND_DROPPED = """
from pytest_bytecount import measure

SOURCE = "x = 1\\ny = x + 1\\n"

def run(times):
    for _ in range(times):
        exec(compile(SOURCE, "<excluded>", "exec"), {"__name__": "elsewhere"})
        exec(compile(SOURCE, "<counted>", "exec"), {"__name__": "here"})

def counted_lines(times):
    with measure(exclude=["elsewhere"]) as m:
        run(times)
    return sum(f.instructions for f in m.functions if f.file == "<counted>")

def test_every_counted_code_object_is_counted():
    assert counted_lines(50) == 50 * counted_lines(1)
"""


def test_a_code_object_reusing_the_address_of_an_excluded_one_is_counted(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_reuse=CODE_MADE_AND_DROPPED)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_a_weakref_callback_triggered_by_rebinding_a_local_is_counted() -> None:
    from pytest_bytecount import measure

    def callback(ref: object) -> None:
        sum(range(3))

    class Object:
        pass

    def work() -> None:
        thing = Object()
        ref = weakref.ref(thing, callback)
        thing = None  # drops the last reference: the callback runs here
        del ref

    with measure() as m:
        work()
    assert "callback" in {f.function.rpartition(".")[2] for f in m.functions}


@pytest.mark.xfail(
    sys.version_info[:2] == (3, 10) and PYTHON_TRACER,
    strict=True,
    reason="3.10 hands a Python trace function the frame's locals as a dict: the enclosing "
    "function's keeps a cell variable that an inner function rebound alive until its own next "
    "trace event, inside the tracer, where a weakref callback it triggers is not traced",
)
def test_a_weakref_callback_triggered_by_a_nonlocal_rebinding_is_counted() -> None:
    from pytest_bytecount import measure

    def callback(ref: object) -> None:
        sum(range(3))

    class Object:
        pass

    def work() -> None:
        thing: Object | None = Object()
        ref = weakref.ref(thing, callback)

        def drop() -> None:
            nonlocal thing
            thing = None  # drops the last reference: the callback runs here

        drop()
        del ref

    with measure() as m:
        work()
    assert "callback" in {f.function.rpartition(".")[2] for f in m.functions}
