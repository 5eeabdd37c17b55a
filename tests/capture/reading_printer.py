"""A sensor command for the agent's tests: prints a banner, then readings ``i,2*i,-i`` at a steady rate.

Run as ``python reading_printer.py HZ COUNT [WIDTH_CHANGE_AT]``: ``COUNT`` readings (0: forever) paced on an
absolute schedule (``start + i / HZ``) so the long-run rate is exact even when the process is briefly
descheduled; from reading ``WIDTH_CHANGE_AT`` on, a line has two values only (a board that changed format).
Exits 3 with a message on stderr after ``COUNT`` readings.
"""

from __future__ import annotations

import sys
import time


def main() -> None:
    hz, count = float(sys.argv[1]), int(sys.argv[2])
    change_at = int(sys.argv[3]) if len(sys.argv) > 3 else -1
    print("sensor v1.0 booting", flush=True)
    start = time.monotonic()
    i = 0
    while count == 0 or i < count:
        wait = start + i / hz - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        line = f"{i},{2 * i}" if 0 <= change_at <= i else f"{i},{2 * i},{-i}"
        print(line, flush=True)
        i += 1
    print(f"sensor stopped after {count} readings", file=sys.stderr, flush=True)
    sys.exit(3)


if __name__ == "__main__":
    main()
