"""What registering every key with the GitHub Actions runner costs a run.

    python benchmarks/add_mask.py            # 2000 tests, 7 pairs of runs per row
    python benchmarks/add_mask.py --quick    # 300 tests, 3 pairs

Each row runs the same generated suite (every test uses ``xquik_api_key``, in
mock mode) with ``GITHUB_ACTIONS=true`` (one ``::add-mask::`` line per key on
the real stdout; under ``-n 2`` one round trip per key from the worker to the
controller) and without it, in subprocesses, in alternating order. It prints
the median wall-clock time of each side and the median of the pairs' ratios.
No target: the ratio is reported.
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import run  # benchmarks/run.py, next to this script


def timed(command: list[str], directory: Path, github: bool) -> float:
    env = run.clean_environment()
    if github:
        env["GITHUB_ACTIONS"] = "true"
    start = time.perf_counter()
    result = subprocess.run(command, cwd=directory, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"benchmark run failed (exit {result.returncode}):\n{result.stdout[-3000:]}")
    if github != ("::add-mask::" in result.stdout):
        sys.exit("the run with GITHUB_ACTIONS=true printed no ::add-mask:: line, or the other did")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="300 tests, 3 pairs of runs")
    options = parser.parse_args()
    tests, repeat = (300, 3) if options.quick else (2000, 7)
    suite = run.Suite(
        "add_mask", tests, "xquik_api_key", 'assert xquik_api_key.full_key.startswith("xq_")'
    )
    print(f"{tests} tests using `xquik_api_key` (mock), GITHUB_ACTIONS=true against unset")
    print("| run | with add-mask (s) | without (s) | ratio |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as root:
        directory = Path(root)
        (directory / "test_add_mask.py").write_text(suite.source())
        for label, workers in (("one process", 0), ("`-n 2`", 2)):
            command = dataclasses.replace(suite, workers=workers).command()
            timed(command, directory, github=False)  # warm-up: byte-compile, rewrite asserts
            pairs = []
            for repetition in range(repeat):
                sides = (True, False) if repetition % 2 == 0 else (False, True)
                seconds = {github: timed(command, directory, github) for github in sides}
                pairs.append((seconds[True], seconds[False]))
            with_mask = statistics.median(pair[0] for pair in pairs)
            without = statistics.median(pair[1] for pair in pairs)
            ratio = statistics.median(pair[0] / pair[1] for pair in pairs)
            print(f"| {label} | {with_mask:.2f} | {without:.2f} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
