"""Word statistics: the code under test in the example project."""

from __future__ import annotations

from collections import Counter


def words(text: str) -> list[str]:
    return [word.strip(".,;:!?").lower() for word in text.split() if word.strip(".,;:!?")]


def most_common(text: str, n: int = 3) -> list[tuple[str, int]]:
    return Counter(words(text)).most_common(n)


def longest_word_slow(text: str) -> str:
    """Deliberately wasteful: sorts every word to find the longest one."""
    best = ""
    for word in words(text):
        candidates = sorted([best, word], key=lambda w: (len(w), w))
        best = candidates[-1]
    return best


def longest_word(text: str) -> str:
    return max(words(text), key=lambda w: (len(w), w), default="")
