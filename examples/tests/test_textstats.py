import pytest
from textstats import longest_word, longest_word_slow, most_common, words

TEXT = "The quick brown fox jumps over the lazy dog. The dog sleeps; the fox runs!"


@pytest.mark.max_instructions(400)
def test_words_within_budget():
    assert words(TEXT)[:3] == ["the", "quick", "brown"]


@pytest.mark.max_instructions(500)
def test_longest_word_slow_is_over_budget():
    # Passes its assertion, but the slow implementation breaks the budget:
    # this is the failure the example is there to show.
    assert longest_word_slow(TEXT) == "sleeps"


@pytest.mark.max_instructions(500)
def test_longest_word_within_budget():
    assert longest_word(TEXT) == "sleeps"


def test_most_common_measured_with_the_fixture(bytecount):
    top = bytecount(most_common, TEXT, 2)
    assert top == [("the", 4), ("fox", 2)]
    assert bytecount.last.instructions > 0
    assert sum(bytecount.last.by_opcode.values()) == bytecount.last.instructions


def test_a_block_measured_with_the_fixture(bytecount):
    text = " ".join([TEXT] * 10)  # setup: not measured
    with bytecount.measure() as m:
        result = words(text)
    assert len(result) == 150
    assert m.instructions == bytecount.instructions
