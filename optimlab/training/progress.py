"""The one progress helper for the trainer and the CLI: a single redrawn line on a terminal, silent
everywhere else (pipes, files, CI logs, notebooks without a TTY), so library code never prints."""

from __future__ import annotations

import sys
import time


class Progress:
    """``with Progress(total, desc="train") as bar: bar.update(1, loss=0.3)`` draws
    ``train  40/100 [#####.......]  loss=0.3`` on ``stream`` (default ``sys.stderr``) when it is a
    TTY, at most every ``min_interval`` seconds (and always at the end); otherwise writes nothing."""

    def __init__(self, total: int, *, desc: str = "", stream=None, min_interval: float = 0.1, width: int = 24):
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise ValueError(f"total must be a non-negative int, got {total!r}")
        self.total, self.desc, self.width, self.min_interval = total, desc, width, min_interval
        self.stream = sys.stderr if stream is None else stream
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty())
        self.count, self._last_draw = 0, -float("inf")

    def update(self, n: int = 1, **metrics) -> None:
        """Advance by ``n`` and show ``metrics`` (floats are shown with 4 significant digits)."""
        self.count += n
        now = time.monotonic()
        if self.enabled and (now - self._last_draw >= self.min_interval or self.count >= self.total):
            self._last_draw = now
            filled = self.width * min(self.count, self.total) // max(self.total, 1)
            shown = "  ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in metrics.items())
            self.stream.write(f"\r{self.desc} {self.count:>{len(str(self.total))}}/{self.total} "
                              f"[{'#' * filled}{'.' * (self.width - filled)}]  {shown}\x1b[K")
            self.stream.flush()

    def close(self) -> None:
        """End the line (only if anything was drawn)."""
        if self.enabled and self._last_draw > -float("inf"):
            self.stream.write("\n")
            self.stream.flush()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
