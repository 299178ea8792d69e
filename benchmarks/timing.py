"""Timing helper shared by the benchmark scripts."""
import time
from typing import Callable


def best_ms(fn: Callable[[], object], calls: int = 20, repeats: int = 5,
            warmup: int = 2) -> float:
    r"""Milliseconds per call of :obj:`fn`: the best mean over
    :obj:`repeats` rounds of :obj:`calls` calls, each round after
    :obj:`warmup` untimed calls (the best round is the one least disturbed
    by the rest of the machine)."""
    best = float('inf')
    for _ in range(repeats):
        for _ in range(warmup):
            fn()
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls * 1000)
    return best
