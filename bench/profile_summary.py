#!/usr/bin/env python3
"""Summarize a py-spy profile in raw (collapsed stack) format: where the samples went.

    python bench/profile_summary.py results/profile/clepsydra-chain-r1.txt [--top 30]

Prints the share of samples per thread root, the functions with the most samples
inclusive of what they call (each counted once per stack), and the leaf functions.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<name>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def frames(stack: str) -> list[str]:
    """`func (file:line)` frames as `file:func`, without line numbers (so a function is one entry)."""
    out = []
    for frame in stack.split(";"):
        match = _FRAME.match(frame.strip())
        out.append(f"{match['file']}:{match['name']}" if match else frame.strip())
    return out


# Where a sample belongs: the first category one of whose markers is in its stack.
CATEGORIES = [
    ("SQLite thread (Python side of the statements)", ("concurrent/futures/thread.py:_worker",)),
    ("timers (firing due and stale timeouts)", ("TimerQueue.",)),
    ("codec: mutable state to JSON and back", ("clepsydra/engine/codec.py",)),
    ("engine: state changes, events", ("clepsydra/engine/",)),
    ("store calls from the event loop", ("clepsydra/store/",)),
    ("history core: locks, cache, commit bookkeeping", ("clepsydra/history/core.py",)),
    (
        "RPC handlers: polls, responses, reads",
        ("clepsydra/api/", "clepsydra/history/", "clepsydra/matching/"),
    ),
    ("other Clepsydra code (HTTP API, admin, ...)", ("clepsydra/",)),
    ("gRPC, event loop and libraries (no Clepsydra frame)", ("",)),
]
# Frames every main-thread stack has: they say nothing about where the time goes.
_STARTUP = ("clepsydra/cli.py", "clepsydra/__main__.py", "clepsydra/server/event_loop.py")


def categorize(path: Path) -> str:
    counts: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        joined = ";".join(f for f in frames(stack) if not f.startswith(_STARTUP))
        name = next(name for name, markers in CATEGORIES if any(m in joined for m in markers))
        counts[name] += int(count)
        total += int(count)
    lines = [f"{path.name}: {total} samples"]
    lines += [f"{100 * counts[name] / total:6.1f}%  {name}" for name, _ in CATEGORIES if counts[name]]
    return "\n".join(lines)


def summarize(path: Path, top: int, focus: str | None) -> str:
    inclusive: Counter[str] = Counter()
    leaves: Counter[str] = Counter()
    roots: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        stack_frames = frames(stack)
        if focus and not any(focus in f for f in stack_frames):
            continue
        n = int(count)
        total += n
        roots[_root(stack_frames)] += n
        leaves[stack_frames[-1]] += n
        for name in set(stack_frames):
            inclusive[name] += n
    lines = [f"{path.name}: {total} samples" + (f" under {focus}" if focus else "")]
    for title, counter in (("thread roots", roots), ("inclusive", inclusive), ("leaf", leaves)):
        lines.append(f"\n{title}:")
        lines += [f"{100 * n / total:6.1f}%  {name}" for name, n in counter.most_common(top)]
    return "\n".join(lines)


def _root(stack_frames: list[str]) -> str:
    """What a thread is doing at the top: the event loop's callback, or the thread's target."""
    for i, name in enumerate(stack_frames):
        if name.endswith("Handle._run") and i + 1 < len(stack_frames):
            return "event loop: " + stack_frames[i + 1]
        if name.endswith(("_worker", "Thread.run")) and i + 1 < len(stack_frames):
            return "thread: " + stack_frames[min(i + 2, len(stack_frames) - 1)]
    return stack_frames[min(len(stack_frames) - 1, 8)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("profile", type=Path)
    ap.add_argument("--top", type=int, default=30)
    ap.add_argument("--focus", default=None, help="only stacks with a frame containing this text")
    ap.add_argument("--categories", action="store_true", help="shares of a few coarse categories")
    args = ap.parse_args()
    print(categorize(args.profile) if args.categories else summarize(args.profile, args.top, args.focus))


if __name__ == "__main__":
    main()
