"""One soak run: start the cluster, drive the load with faults, stop, check, report."""

from __future__ import annotations

import json
import subprocess
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TextIO

from . import checks
from .cluster import Cluster
from .faults import Faults
from .ledger import Ledger
from .report import report
from .workers import ApiWorker, CliWorker, Tokens, sample_uids

ACCOUNTS_PER_CLIENT = 3
CLI_ACCOUNTS = 2


@dataclass(frozen=True)
class Options:
    seconds: float
    clients: int
    mariadb: bool
    databases: bool
    seed: int
    prefix: str  # every account name (so every DB name) of this run starts with it


def ssh_keys(directory: Path, count: int = 4) -> list[str]:
    directory.mkdir(parents=True, exist_ok=True)
    keys = []
    for n in range(count):
        path = directory / f"key{n}"
        subprocess.run(  # noqa: S603 - fixed argv
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"soak{n}", "-f", str(path)],
            check=True,
        )
        keys.append(path.with_suffix(".pub").read_text().strip())
    return keys


def run(workdir: Path, options: Options, out: TextIO) -> int:
    cluster = Cluster(workdir, mariadb=options.mariadb)
    ledger = Ledger()
    tokens = Tokens()
    stop = threading.Event()
    print(f"soak: {options.seconds:.0f} s, {options.clients} API clients + 1 CLI, seed "
          f"{options.seed}, root {cluster.root}", file=out, flush=True)  # fmt: skip
    try:
        cluster.setup()
        keys = ssh_keys(workdir / "keys")
        workers = []
        for w in range(options.clients):
            names = [f"{options.prefix}{chr(97 + w)}{i}" for i in range(ACCOUNTS_PER_CLIENT)]
            worker = ApiWorker(
                chr(97 + w), cluster, ledger, tokens, names, keys, stop, options.seed + w
            )
            if not options.databases:
                worker.skip_databases = True
            workers.append(worker)
        cli_names = [f"{options.prefix}z{i}" for i in range(CLI_ACCOUNTS)]
        cli = CliWorker(cluster, ledger, cli_names, stop, options.seed - 1)
        faults = Faults(cluster, ledger, options.seconds)
        threads = [threading.Thread(target=w.run, name=f"api-{w.wid}") for w in workers]
        threads.append(threading.Thread(target=cli.run, name="cli"))
        threads.append(threading.Thread(target=sample_uids, args=(cluster.root, ledger, stop)))
        fault_thread = threading.Thread(target=faults.run, args=(stop,), name="faults")
        started = time.monotonic()
        for thread in [*threads, fault_thread]:
            thread.start()
        stop.wait(options.seconds)
        stop.set()
        fault_thread.join()
        for thread in threads:
            thread.join(timeout=300)
        elapsed = time.monotonic() - started
        cluster.disarm()
        end_checks(cluster, ledger, tokens, options)
        dump(workdir / "samples.jsonl", ledger)
        return report(ledger, faults.injected(), elapsed, out)
    finally:
        stop.set()
        cluster.stop()
        if options.databases:
            checks.drop_databases(options.prefix)


def dump(path: Path, ledger: Ledger) -> None:
    """Every request and its answer, one JSON line each (kept with the root on failure)."""
    with path.open("w", encoding="utf-8") as out:
        for sample in ledger.samples:
            out.write(json.dumps(asdict(sample)) + "\n")


def end_checks(cluster: Cluster, ledger: Ledger, tokens: Tokens, options: Options) -> None:
    """Every check of issue 15, in an order where each sees the state it is about."""
    found: list[str] = []
    found += checks.check_revisions(cluster.root)
    found += checks.check_ledger(cluster, ledger)
    found += checks.check_answers(cluster, ledger)
    found += checks.check_audit(cluster.root, ledger.samples)
    found += checks.check_dead_tokens(cluster, tokens.dead)
    stale = checks.index_differences(cluster)
    if stale:
        ledger.note(f"before the final reindex the index differed: {stale[:3]}")
    found += checks.check_index_after_reindex(cluster)
    before = checks.orphans(cluster.root)
    if before:
        ledger.note(f"before reconcile: {before}")
    litter = checks.crash_litter(cluster.root)
    if litter:
        ledger.note(f"temp files a kill left behind (reconcile keeps them): {litter}")
    notes, bad = checks.reconcile(cluster)
    for note in notes:
        ledger.note(note)
    found += bad
    found += checks.check_logins(cluster, ledger)  # once reconcile converged what a kill cut
    found += checks.orphans(cluster.root)
    if options.databases:
        bad_dbs, _ = checks.orphan_databases(options.prefix, cluster.root)
        found += bad_dbs
    for problem in found:
        ledger.violation(problem)
    ledger.checked = {
        "accounts on disk": len(checks.accounts_on_disk(cluster.root)),
        "accounts promised": len(ledger.accounts),
        "2xx answers": sum(1 for s in ledger.samples if s.accepted),
        "journal lines": len(checks.journal(cluster.root)),
        "dead tokens tried": len(tokens.dead),
        "uid samples": ledger.uid_samples,
    }
