"""Benchmark: start-up time of the command line (issue 11.5) against a bare Python, in one run.

    python benchmarks/startup.py [--repeat 7]

Times, as the median wall time of ``--repeat`` fresh processes each: ``python -c pass`` (the
baseline), ``python -c "import sympy"`` (what any real computation pays at least),
``import symkernel``, ``symkernel --help``, ``symkernel beta --help`` and an argument error
(``symkernel beta relu --dps 0``, exit status 2), and prints each as a ratio against the baseline.
Target: ``--help`` and argument errors within a few times a bare Python (they import neither
SymPy nor the package's layers), well under ``import sympy``; the first use of a public name
(``sk.x``) pays the full import.
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

PY = sys.executable


def _command():
    """The installed console script next to this Python, else ``python -m symkernel``."""
    script = os.path.join(os.path.dirname(PY), "symkernel")
    if os.path.exists(script):
        return [script]
    found = shutil.which("symkernel")
    return [found] if found else [PY, "-m", "symkernel"]


def wall(argv, repeat, status=0):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        done = subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
        if done.returncode != status:
            raise SystemExit(f"{' '.join(argv)} exited with {done.returncode}, expected {status}")
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    sk = _command()
    cases = [
        ("python -c pass", [PY, "-c", "pass"], 0),
        ("python -c 'import sympy'", [PY, "-c", "import sympy"], 0),
        ("python -c 'import symkernel'", [PY, "-c", "import symkernel"], 0),
        ("python -c 'import symkernel; symkernel.x'", [PY, "-c", "import symkernel; symkernel.x"],
         0),
        ("symkernel --help", sk + ["--help"], 0),
        ("symkernel beta --help", sk + ["beta", "--help"], 0),
        ("symkernel beta relu --dps 0 (exit 2)", sk + ["beta", "relu", "--dps", "0"], 2),
    ]
    results = [(name, wall(argv, args.repeat, status)) for name, argv, status in cases]
    base = results[0][1]
    print(f"median wall time of {args.repeat} fresh processes; ratio against python -c pass")
    for name, t in results:
        print(f"  {name:<45} {t * 1000:8.1f} ms   {t / base:6.1f}x")


if __name__ == "__main__":
    main()
