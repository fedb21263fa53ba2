"""Growth classes fitted to exact counts (SPEC §13): which of `1 < log n <
n < n log n < n^2 < n^3 < 2^n` explains how a function's instruction count
grows with the size of its input (pure, no pytest).

Counts are exact, so an algorithm's count is usually its class's term plus
lower-order ones, to the instruction: insertion sort's is a polynomial of
degree 2, a binary search's a multiple of ⌈log2 n⌉ plus a constant. Each
class is fitted with its lower-order terms, by least squares on relative
errors, and the simplest class whose fit is within `TOLERANCE` of every
count wins. A class is judged only with more sizes than it has terms (a
cubic always fits 4 points), and must also foretell: fitted to every size
but the largest, it must predict the largest's count within `TOLERANCE`.
Counts that depend on the data as well as on n (a dedupe of random input)
can be fitted closely by a higher class whose terms cancel out; such a fit
does not foretell, and nothing is guessed when no class fits.

What bytecode cannot see: work done inside C (`x in some_list`, `sorted`,
`str.find`) is one instruction whatever its size, so such code looks
constant; the fit's text says so when the counts do not grow.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Final, final

#: The growth classes, slowest first. "2^n" stands for any exponential b^n.
ORDERS: Final = ("1", "log n", "n", "n log n", "n^2", "n^3", "2^n")
#: The largest relative error of a fit that still explains the counts.
TOLERANCE: Final = 0.01
#: What a fit needs: this many sizes, the largest this many times the smallest.
MIN_SIZES: Final = 4
MIN_SPAN: Final = 8
UNKNOWN: Final = "?"

#: Each polynomial-like class's terms, highest first: a name and a function.
_TERMS: Final[dict[str, tuple[tuple[str, Callable[[float], float]], ...]]] = {
    "1": (("", lambda n: 1.0),),
    "log n": (("log2(n)", math.log2), ("", lambda n: 1.0)),
    "n": (("n", float), ("", lambda n: 1.0)),
    "n log n": (("n·log2(n)", lambda n: n * math.log2(n)), ("n", float), ("", lambda n: 1.0)),
    "n^2": (("n^2", lambda n: n * n), ("n", float), ("", lambda n: 1.0)),
    "n^3": (("n^3", lambda n: n**3), ("n^2", lambda n: n * n), ("n", float), ("", lambda n: 1.0)),
}


@final
class Order(str):
    """A growth class, which compares with another or with its name by
    growth: `fit.order <= "n log n"`. The unknown order (no class fits)
    is neither below nor above any, so every comparison with it is false."""

    __slots__ = ()

    def __new__(cls, name: str) -> Order:
        if name not in ORDERS and name != UNKNOWN:
            raise ValueError(f"unknown growth class {name!r}: expected one of {', '.join(ORDERS)}")
        return super().__new__(cls, name)

    @property
    def rank(self) -> int | None:
        return ORDERS.index(self) if self != UNKNOWN else None

    def _ranks(self, other: object) -> tuple[int, int] | None:
        if not isinstance(other, str):
            return None
        mine, theirs = self.rank, Order(other).rank
        return None if mine is None or theirs is None else (mine, theirs)

    def __lt__(self, other: object) -> bool:
        ranks = self._ranks(other)
        return ranks is not None and ranks[0] < ranks[1]

    def __le__(self, other: object) -> bool:
        ranks = self._ranks(other)
        return ranks is not None and ranks[0] <= ranks[1]

    def __gt__(self, other: object) -> bool:
        ranks = self._ranks(other)
        return ranks is not None and ranks[0] > ranks[1]

    def __ge__(self, other: object) -> bool:
        ranks = self._ranks(other)
        return ranks is not None and ranks[0] >= ranks[1]

    __hash__ = str.__hash__

    def __repr__(self) -> str:
        return f"Order({str(self)!r})"


@dataclass(frozen=True)
class Candidate:
    """One class fitted to the counts: its terms (highest first, "" for the
    constant, "b^n" with `base` for the exponential), their coefficients,
    and the largest relative error of the fit; None where the class could
    not be judged (no more sizes than terms)."""

    order: Order
    terms: tuple[str, ...]
    coefficients: tuple[float, ...]
    error: float | None
    base: float | None = None
    #: Each term's value at the largest size: a term worth less than half an
    #: instruction there is not shown.
    at_largest: tuple[float, ...] = ()
    #: The relative error of the largest size's count as predicted by the
    #: class fitted to the other sizes.
    foretold: float | None = None

    @property
    def fits(self) -> bool:
        return (
            self.error is not None
            and self.error <= TOLERANCE
            and self.foretold is not None
            and self.foretold <= TOLERANCE
            and self.coefficients[0] > 0
        )

    def value(self, n: float) -> float:
        """The fitted formula's value at `n`."""
        if self.order == "2^n":
            exponential: float = (self.base or 2.0) ** n
            return self.coefficients[0] * exponential + self.coefficients[1]
        terms = _TERMS[self.order]
        return sum(c * f(n) for c, (_, f) in zip(self.coefficients, terms, strict=True))

    def formula(self) -> str:
        """`12.0·n·log2(n) + 41·n + 310`: the terms that are not zero."""
        parts: list[str] = []
        values = self.at_largest or (1.0,) * len(self.terms)
        for term, coefficient, value in zip(self.terms, self.coefficients, values, strict=True):
            shown = _number(abs(coefficient))
            if abs(coefficient * value) < 0.5 or shown == "0":
                continue
            name = f"{_number(self.base or 0, 4)}^n" if term == "b^n" else term
            written = f"{shown}·{name}" if name else shown
            sign = "-" if coefficient < 0 else "+"
            parts.append(written if not parts and sign == "+" else f"{sign} {written}")
        return " ".join(parts) if parts else "0"


@dataclass(frozen=True)
class Fit:
    """The counts of a function at each size, and the simplest growth class
    that explains them (`order`, unknown when none does, with `reason`)."""

    sizes: tuple[int, ...]
    counts: tuple[int, ...]
    order: Order
    candidates: tuple[Candidate, ...]
    reason: str | None = None

    @property
    def best(self) -> Candidate | None:
        """The fitted class, or None."""
        return next((c for c in self.candidates if c.order == self.order), None)

    def __str__(self) -> str:
        best = self.best
        if best is None:
            return f"no growth class fits: {self.reason}"
        assert best.error is not None
        closeness = "exact" if best.error == 0 else f"exact to {100 * best.error:.2g}%"
        order = f"{_number(best.base or 0, 4)}^n" if best.order == "2^n" else str(best.order)
        text = f"O({order}): {best.formula()}, {closeness} on {len(self.sizes)} sizes"
        if best.order == "1":
            text += (
                "; the counts do not grow with n: work done inside C (`in` on a list, "
                "sorted(), str methods) counts as one instruction whatever its size"
            )
        return text

    def __repr__(self) -> str:
        return f"<Fit {self}>"


def growth(order: str, n: float) -> float:
    """The leading term of the class `order` at `n` (`2^n` as 2**n): a
    curve of that class's shape, such as a limit's."""
    if order == "2^n":
        exponential: float = 2.0**n
        return exponential
    return _TERMS[order][0][1](n)


def check_sizes(sizes: Sequence[object]) -> tuple[int, ...]:
    """The sizes as ints, or a ValueError (TypeError for non-numbers) that
    says what a fit needs."""
    found = []
    for size in sizes:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(f"sizes: {size!r} is not a whole number")
        if size < 1:
            raise ValueError(f"sizes: {size} is not a positive size")
        found.append(size)
    distinct = sorted(set(found))
    if len(distinct) < MIN_SIZES or distinct[-1] < MIN_SPAN * distinct[0]:
        raise ValueError(
            f"sizes: a fit needs at least {MIN_SIZES} different sizes, the largest at least "
            f"{MIN_SPAN} times the smallest (got {list(sizes)!r})"
        )
    return tuple(found)


def not_counted(sizes: Sequence[int], reason: str) -> Fit:
    """The fit of sizes that were not counted, saying why."""
    return Fit(tuple(sizes), (0,) * len(sizes), Order(UNKNOWN), (), reason)


def fit(sizes: Sequence[int], counts: Sequence[int]) -> Fit:
    """Fit `counts` (one per size) to each growth class; the simplest that
    explains them is the order."""
    sizes = check_sizes(sizes)
    if len(counts) != len(sizes):
        raise ValueError(f"{len(counts)} counts for {len(sizes)} sizes")
    counts = tuple(counts)
    if any(count <= 0 for count in counts):
        return Fit(
            sizes,
            counts,
            Order(UNKNOWN),
            (),
            "a count is 0: no bytecode ran (a function written in C, such as sorted, runs "
            "none: work done inside C counts as one instruction whatever its size)",
        )
    candidates = [_foretelling(_polynomial, order, sizes, counts) for order in ORDERS[:-1]]
    candidates.append(_foretelling(_exponential, "2^n", sizes, counts))
    chosen = next((c for c in candidates if c.fits), None)
    if chosen is not None:
        return Fit(sizes, counts, chosen.order, tuple(candidates))
    judged = [c for c in candidates if c.error is not None and c.foretold is not None]
    closest = min(judged, key=lambda c: max(c.error or 0.0, c.foretold or 0.0), default=None)
    reason = "too few sizes to judge any class"
    if closest is not None and (closest.error or 0.0) > TOLERANCE:
        reason = (
            f"the closest, O({closest.order}), is off by {100 * (closest.error or 0):.2g}% "
            f"(at most {100 * TOLERANCE:g}% explains the counts); the work may depend on "
            f"the data as well as on n, or the sizes may be too small to show the growth"
        )
    elif closest is not None:
        reason = (
            f"the closest, O({closest.order}), is within {100 * (closest.error or 0):.2g}% "
            f"but, fitted to the smaller sizes, misses the largest's count by "
            f"{100 * (closest.foretold or 0):.2g}% (at most {100 * TOLERANCE:g}%); the work "
            "may depend on the data as well as on n"
        )
    return Fit(sizes, counts, Order(UNKNOWN), tuple(candidates), reason)


def _foretelling(
    make: Callable[[str, Sequence[int], Sequence[int], int], Candidate],
    order: str,
    sizes: Sequence[int],
    counts: Sequence[int],
) -> Candidate:
    """The class `make` fits to every size, with how well the class fitted
    to all but the largest predicts the largest's count: that class may
    have as many terms as sizes (it is judged by the largest)."""
    candidate = make(order, sizes, counts, 1)
    if candidate.error is None:
        return candidate
    largest = sizes.index(max(sizes))
    rest = make(
        order,
        [*sizes[:largest], *sizes[largest + 1 :]],
        [*counts[:largest], *counts[largest + 1 :]],
        0,
    )
    if rest.error is None:
        return candidate
    foretold = abs(rest.value(sizes[largest]) - counts[largest]) / counts[largest]
    return replace(candidate, foretold=foretold if foretold > 1e-9 else 0.0)


def _polynomial(order: str, sizes: Sequence[int], counts: Sequence[int], spare: int) -> Candidate:
    """The class fitted to the counts: judged with at least `spare` more
    sizes than terms."""
    terms = _TERMS[order]
    rows = [[f(n) for _, f in terms] for n in sizes]
    names = tuple(name for name, _ in terms)
    if len(set(sizes)) < len(terms) + spare:
        return Candidate(Order(order), names, (0.0,) * len(terms), None)
    coefficients = _least_squares(rows, counts)
    error = _error(rows, coefficients, counts)
    largest = rows[sizes.index(max(sizes))]
    return Candidate(Order(order), names, coefficients, error, at_largest=tuple(largest))


def _exponential(order: str, sizes: Sequence[int], counts: Sequence[int], spare: int) -> Candidate:
    """`a·b^n + c`, with the base b searched for (by golden section on the
    logarithm of b - 1, between 1.001 and 16)."""
    names = ("b^n", "")
    if len(set(sizes)) < 3 + spare:  # a, b and c
        return Candidate(Order("2^n"), names, (0.0, 0.0), None, 2.0)
    largest = max(sizes)

    def fitted(base: float) -> tuple[float, tuple[float, ...], list[list[float]]]:
        # b^n over b^largest: the rows stay within floating point's range.
        rows = [[base ** (n - largest), 1.0] for n in sizes]
        coefficients = _least_squares(rows, counts)
        return _error(rows, coefficients, counts), coefficients, rows

    low, high = math.log(0.001), math.log(15.0)
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(80):
        a, b = high - ratio * (high - low), low + ratio * (high - low)
        if fitted(1 + math.exp(a))[0] <= fitted(1 + math.exp(b))[0]:
            high = b
        else:
            low = a
    base = 1 + math.exp((low + high) / 2)
    error, (scaled, constant), _ = fitted(base)
    coefficients = (scaled / base**largest, constant)
    return Candidate(Order("2^n"), names, coefficients, error, base, (base**largest, 1.0))


def _error(rows: list[list[float]], coefficients: Sequence[float], counts: Sequence[int]) -> float:
    """The largest relative error of the fitted values; 0 within rounding."""
    worst = 0.0
    for row, count in zip(rows, counts, strict=True):
        value = sum(c * x for c, x in zip(coefficients, row, strict=True))
        worst = max(worst, abs(value - count) / count)
    return worst if worst > 1e-9 else 0.0


def _least_squares(rows: list[list[float]], counts: Sequence[int]) -> tuple[float, ...]:
    """Coefficients minimising the sum of squared relative errors: each row
    weighted by 1/count, each column scaled to at most 1 for conditioning,
    then the normal equations solved by Gaussian elimination."""
    width = len(rows[0])
    weighted = [[x / count for x in row] for row, count in zip(rows, counts, strict=True)]
    scale = [max(abs(row[j]) for row in weighted) or 1.0 for j in range(width)]
    a = [[row[j] / scale[j] for j in range(width)] for row in weighted]
    normal = [
        [sum(r[i] * r[j] for r in a) for j in range(width)] + [sum(r[i] for r in a)]
        for i in range(width)
    ]
    for column in range(width):
        pivot = max(range(column, width), key=lambda r: abs(normal[r][column]))
        normal[column], normal[pivot] = normal[pivot], normal[column]
        if abs(normal[column][column]) < 1e-300:
            continue  # a term the sizes cannot tell apart: left at 0
        for r in range(width):
            if r != column:
                factor = normal[r][column] / normal[column][column]
                normal[r] = [x - factor * y for x, y in zip(normal[r], normal[column], strict=True)]
    solved = [
        normal[i][width] / normal[i][i] if abs(normal[i][i]) >= 1e-300 else 0.0
        for i in range(width)
    ]
    return tuple(value / scale[j] for j, value in enumerate(solved))


def _number(value: float, digits: int = 3) -> str:
    """A coefficient as the fit's text shows it: 3 significant digits, whole
    numbers from 100 on."""
    if value >= 100:
        return f"{value:,.0f}"
    text = f"{value:.{digits}g}"
    return text if "e" not in text else f"{value:.{digits}f}"
