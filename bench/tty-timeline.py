# tmux pipe-pane target: keeps a pane's output stream (RAW) and, per chunk, the
# monotonic time and byte count (TIMELINE), so a benchmark can tell steady drip
# from one full redraw.   python3 bench/tty-timeline.py RAW TIMELINE
import os, sys, time
raw = open(sys.argv[1], "ab")
timeline = open(sys.argv[2], "a")
while True:
    chunk = os.read(0, 65536)
    if not chunk:
        break
    raw.write(chunk); raw.flush()
    timeline.write(f"{time.monotonic():.3f} {len(chunk)}\n"); timeline.flush()
