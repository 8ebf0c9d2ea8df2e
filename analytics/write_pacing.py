"""GitHub's content-creation limits as arithmetic: how long to wait before the next write.

A limit is (count, window seconds): at most `count` content-creating requests in any window of
that length (GitHub: 80 in a minute, 500 in an hour). Windows slide: a write sent at `t` stops
counting at `t + window`. Pure: the sent times and "now" come from the caller (GitHub's clock).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

Limit = tuple[int, float]  # (most writes, window in seconds)


def in_window(sent: Iterable[datetime], now: datetime, window: float) -> list[datetime]:
    """The writes that still count at `now` for a window of `window` seconds, oldest first."""
    start = now - timedelta(seconds=window)
    return sorted(t for t in sent if start < t <= now)


def wait_for_limit(sent: Iterable[datetime], now: datetime, limit: Limit) -> float:
    """Seconds until one more write keeps within `limit` (0: it may go now)."""
    count, window = limit
    recent = in_window(sent, now, window)
    if len(recent) < count:
        return 0.0
    # the write may go once all but count-1 of them have left the window
    leaves = recent[len(recent) - count] + timedelta(seconds=window)
    return max((leaves - now).total_seconds(), 0.0)


def wait_before_write(sent: Sequence[datetime], now: datetime, limits: Iterable[Limit]) -> float:
    """Seconds until one more write keeps within every limit (the longest of their waits)."""
    return max((wait_for_limit(sent, now, limit) for limit in limits), default=0.0)


def binding_limit(sent: Sequence[datetime], now: datetime, limits: Iterable[Limit]) -> Limit | None:
    """The limit that makes the next write wait longest (None when it may go now)."""
    waits = [(wait_for_limit(sent, now, limit), limit) for limit in limits]
    longest = max(waits, default=(0.0, None), key=lambda pair: pair[0])
    return longest[1] if longest[0] > 0 else None
