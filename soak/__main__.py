"""`python -m soak`: load, faults and integrity checks against a real JoPanel (README).

Duration from SOAK_SECONDS (default 60), API clients from SOAK_CLIENTS (default 4).
Prints a table and `ops`, `ops/s`, `p50 ms`, `p99 ms`, `faults injected`, `violations`;
exits 0 only when there is no violation.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import string
import sys
import tempfile
from pathlib import Path

from .run import Options, run


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m soak", description=__doc__)
    parser.add_argument("--seconds", type=float, default=float(os.environ.get("SOAK_SECONDS", 60)))
    parser.add_argument("--clients", type=int, default=int(os.environ.get("SOAK_CLIENTS", 4)))
    parser.add_argument("--mariadb", action="store_true", help="the panel's index on MariaDB")
    parser.add_argument("--no-databases", action="store_true", help="skip account databases")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the temp root at the end")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else random.randrange(1 << 30)
    workdir = Path(tempfile.mkdtemp(prefix="jopanel-soak-"))
    prefix = "s" + "".join(random.Random(seed).choices(string.ascii_lowercase, k=4))
    options = Options(
        seconds=args.seconds,
        clients=args.clients,
        mariadb=args.mariadb,
        databases=not args.no_databases,
        seed=seed,
        prefix=prefix,
    )
    violations = run(workdir, options, out=sys.stdout)
    if args.keep or violations:
        sys.stderr.write(f"soak: root kept in {workdir}\n")  # stdout ends with the summary
    else:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0 if violations == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
