"""Argument checks shared by every layer, with one wording of the errors."""
from typing import Any, Sequence, Union

Number = Union[int, float]


def check_positive(name: str, value: Number) -> None:
    r"""Raises a :class:`ValueError` naming :obj:`name` unless
    :obj:`value > 0`."""
    if value <= 0:
        raise ValueError(f"'{name}' must be positive (got {value})")


def check_fraction(name: str, value: float) -> None:
    r"""Raises a :class:`ValueError` naming :obj:`name` unless
    :obj:`0 <= value < 1` (a dropout ratio)."""
    if not 0.0 <= value < 1.0:
        raise ValueError(f"'{name}' must lie in [0, 1) (got {value})")


def check_non_negative(name: str, value: Number) -> None:
    r"""Raises a :class:`ValueError` naming :obj:`name` unless
    :obj:`value >= 0`."""
    if value < 0:
        raise ValueError(f"'{name}' must be >= 0 (got {value})")


def check_one_of(name: str, value: Any, choices: Sequence[Any]) -> None:
    r"""Raises a :class:`ValueError` naming :obj:`name` and the accepted
    :obj:`choices` unless :obj:`value` is one of them."""
    if value not in choices:
        raise ValueError(f"'{name}' must be one of {choices} (got '{value}')")
