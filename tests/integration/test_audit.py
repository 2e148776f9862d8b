"""The audit trail on a real database: append-only, and any tampering is found and named."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timezone

import pytest

from du_core.errors import AuditTampered
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from du_core.actor import Actor, Role
from du_core.admin import service
from du_core.admin.schemas import UpdateUser
from du_core.audit.trail import link_hash, record
from du_core.auth import service as auth_service
from du_core.auth.schemas import Register
from du_core.db.runner import run
from du_core.validation import parse

PASSWORD = "a long Pass phrase 42"
ADMIN = Actor(user_id=uuid.uuid4(), role=Role.admin)


def new_user(engine, n: int) -> uuid.UUID:
    return run(engine, auth_service.register, parse(
        Register, email=f"user{n}@example.com", phone=f"+849110{n:05d}", full_name="Lê Văn Quản",
        password=PASSWORD, date_of_birth="1980-01-02", nationality="VN")).id


def write_run(engine, count: int) -> list[uuid.UUID]:
    """Write `count` records in one transaction (so in one chain, one after the other); return their ids."""

    def records(session, actor, _):
        for n in range(count):
            record(session, actor, "test.entry", details={"n": n})

    run(engine, records, actor=ADMIN)
    with engine.connect() as conn:
        return list(conn.execute(text(
            "SELECT id FROM audit_trails WHERE action = 'test.entry' ORDER BY occurred_at, seq")).scalars())


def verify(engine):
    return run(engine, service.audit_verify, actor=ADMIN)


def behind_the_back(engine, statement: str, **params) -> None:
    """Run SQL as the database owner with triggers off, as an intruder with that power could."""
    with engine.begin() as conn:
        conn.execute(text("SET LOCAL session_replication_role = replica"))
        conn.execute(text(statement), params)


@pytest.mark.parametrize("statement", [
    "UPDATE audit_trails SET outcome = 'failed'",
    "DELETE FROM audit_trails",
    "TRUNCATE audit_trails",
])
def test_the_database_refuses_to_change_or_remove_audit_records(engine, statement):
    write_run(engine, 2)
    with pytest.raises(DBAPIError) as err, engine.begin() as conn:
        conn.execute(text(statement))
    assert "append-only" in str(err.value.orig)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_trails WHERE outcome = 'success'")).scalar_one() == 2


def test_an_untouched_trail_verifies_with_every_record_counted(engine):
    new_user(engine, 1)
    write_run(engine, 3)
    report = verify(engine)
    assert (report.ok, report.records, report.chains, report.breaches) == (True, 4, 16, [])


def test_verify_names_a_record_whose_content_was_changed(engine):
    ids = write_run(engine, 3)
    behind_the_back(engine, "UPDATE audit_trails SET details = '{\"n\": 99}' WHERE id = :id", id=ids[1])
    report = verify(engine)
    assert not report.ok
    (breach,) = report.breaches
    assert (breach.record_id, breach.reason) == (ids[1], "its content does not match its hash")


def test_verify_names_a_record_whose_hash_was_recomputed_to_hide_a_change(engine):
    ids = write_run(engine, 3)
    with engine.connect() as conn:
        row = conn.execute(text("SELECT * FROM audit_trails WHERE id = :id"), {"id": ids[0]}).mappings().one()
    forged = {**row, "outcome": "failed"}
    behind_the_back(engine, "UPDATE audit_trails SET outcome = 'failed', hash = :h WHERE id = :id",
                    h=link_hash(bytes(row["prev_hash"]), forged), id=ids[0])
    (breach,) = verify(engine).breaches
    assert (breach.record_id, breach.reason) == (ids[1], "its link to the previous record is broken")


def test_verify_catches_a_record_deleted_from_the_middle_of_a_chain(engine):
    ids = write_run(engine, 3)
    behind_the_back(engine, "DELETE FROM audit_trails WHERE id = :id", id=ids[1])
    (breach,) = verify(engine).breaches
    assert (breach.record_id, breach.reason) == (ids[2], "a record is missing before this one")


def test_verify_catches_records_cut_off_the_end_of_a_chain(engine):
    ids = write_run(engine, 3)
    behind_the_back(engine, "DELETE FROM audit_trails WHERE id = :id", id=ids[2])
    (breach,) = verify(engine).breaches
    assert (breach.record_id, breach.seq) == (None, 3)
    assert "records removed" in breach.reason
    with pytest.raises(AuditTampered) as err:
        service.ensure_intact(verify(engine))
    assert err.value.code == "audit_tampered" and err.value.details["breaches"][0]["seq"] == 3


def test_verify_catches_a_forged_record_appended_with_a_valid_link(engine):
    write_run(engine, 1)
    with engine.connect() as conn:
        head = conn.execute(text("SELECT chain, seq, head_hash FROM audit_chains WHERE seq > 0")).one()
    forged = {"chain": head.chain, "seq": head.seq + 1, "occurred_at": datetime.now(timezone.utc),
              "actor_id": ADMIN.user_id, "actor_role": "admin", "client": "cli", "profile": "default",
              "device": None, "action": "admin.settings_update", "target_type": "settings", "target_id": None,
              "outcome": "success", "old_values": None, "new_values": None, "details": None}
    forged_id = uuid.uuid4()
    with engine.begin() as conn:  # inserting needs no trigger switched off
        conn.execute(text(
            "INSERT INTO audit_trails (id, chain, seq, occurred_at, actor_id, actor_role, client, profile, action,"
            " target_type, outcome, prev_hash, hash) VALUES (:id, :chain, :seq, :occurred_at, :actor_id,"
            " :actor_role, :client, :profile, :action, :target_type, :outcome, :prev, :hash)"),
            {**forged, "id": forged_id, "prev": bytes(head.head_hash),
             "hash": link_hash(bytes(head.head_hash), forged)})
    (breach,) = verify(engine).breaches
    assert breach.record_id == forged_id and "recorded head" in breach.reason


@pytest.mark.concurrency
def test_concurrent_writers_leave_a_trail_that_verifies_with_the_exact_count(engine):
    threads, each = 8, 25
    users = [new_user(engine, n) for n in range(threads)]
    admin = Actor(user_id=uuid.uuid4(), role=Role.admin)
    before = verify(engine).records
    barrier, failures, snapshots = threading.Barrier(threads + 1), [], []
    writing = threading.Event()

    def writer(i: int) -> None:
        barrier.wait()
        try:
            for n in range(each):
                run(engine, service.users_update, UpdateUser(user_id=users[i], notes=f"note {n}"), actor=admin)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(exc)

    def verifier() -> None:  # reads a consistent snapshot while the writers commit
        barrier.wait()
        while writing.is_set():
            snapshots.append(verify(engine))

    writing.set()
    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    watcher = threading.Thread(target=verifier)
    for t in [*workers, watcher]:
        t.start()
    for t in workers:
        t.join(timeout=300)
    writing.clear()
    watcher.join(timeout=60)
    assert failures == []
    report = verify(engine)
    assert (report.ok, report.records) == (True, before + threads * each)
    assert snapshots and all(s.ok for s in snapshots), [s.breaches for s in snapshots if not s.ok][:1]
