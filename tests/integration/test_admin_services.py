"""Administration services on a real database: the first admin, account changes, settings, races."""

from __future__ import annotations

import threading
import uuid

import pytest
from sqlalchemy import text

from du_core.actor import Actor, Role
from du_core.admin import service
from du_core.admin.schemas import UpdateSettings, UpdateUser
from du_core.auth import service as auth_service
from du_core.auth.schemas import Register
from du_core.db.engine import create
from du_core.db.runner import run
from du_core.errors import InvalidInput, InvalidState, MaintenanceMode, PermissionDenied
from du_core.users import service as users_service
from du_core.users.schemas import SetRole, UserId, UserQuery
from du_core.validation import parse
from tests.conftest import at_once

PASSWORD = "a long Pass phrase 42"


def registration(n: int) -> Register:
    return parse(Register, email=f"user{n}@example.com", phone=f"+849110{n:05d}", full_name="Lê Văn Quản",
                 password=PASSWORD, date_of_birth="1980-01-02", nationality="VN")


def new_user(engine, n: int, role: Role = Role.standard) -> Actor:
    """Register user n with `role` and return them as an actor."""
    user = run(engine, auth_service.register, registration(n))
    with engine.begin() as conn:
        conn.execute(text("UPDATE users SET role = :r WHERE id = :i"), {"r": role.value, "i": user.id})
    return Actor(user_id=user.id, role=role)


def audit_count(engine, action: str | None = None) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM audit_trails WHERE CAST(:a AS text) IS NULL OR action = :a"),
                            {"a": action}).scalar_one()


def admins(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("SELECT count(*) FROM users WHERE role = 'admin' AND status = 'active'")).scalar_one()




@pytest.mark.concurrency
def test_concurrent_bootstraps_create_exactly_one_admin(db_url, engine):
    engines = [create(db_url) for _ in range(6)]
    try:
        results = at_once(6, lambda i: run(engines[i], service.bootstrap, registration(i)))
    finally:
        for eng in engines:
            eng.dispose()
    created = [r for r in results if not isinstance(r, Exception)]
    refused = [r for r in results if isinstance(r, InvalidState)]
    assert (len(created), len(refused)) == (1, 5), results
    assert admins(engine) == 1
    assert audit_count(engine, "admin.bootstrap") == 1


def test_bootstrap_refuses_once_any_admin_exists(engine):
    new_user(engine, 1, Role.admin)
    with pytest.raises(InvalidState):
        run(engine, service.bootstrap, registration(2))
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM users")).scalar_one() == 1


@pytest.mark.concurrency
def test_two_admins_demoting_each_other_at_once_leave_one_admin(engine):
    from sqlalchemy.orm import Session

    first, second = new_user(engine, 1, Role.admin), new_user(engine, 2, Role.admin)
    outcome: list[object] = []

    def demote_first() -> None:
        try:
            outcome.append(run(engine, service.users_update, UpdateUser(user_id=first.user_id, role="standard"),
                               actor=second))
        except Exception as exc:  # noqa: BLE001 - the test inspects it
            outcome.append(exc)

    with Session(engine) as session:
        service.users_update(session, first, UpdateUser(user_id=second.user_id, role="standard"))
        # Not yet committed, `second` still looks like an active admin: the other demotion must
        # wait for this transaction rather than count them.
        other = threading.Thread(target=demote_first)
        other.start()
        other.join(timeout=0.5)
        session.commit()
    other.join(timeout=30)
    assert isinstance(outcome[0], InvalidState), outcome
    assert admins(engine) == 1


def test_users_update_writes_exactly_one_audit_record_with_old_and_new(engine):
    admin, client = new_user(engine, 1, Role.admin), new_user(engine, 2)
    before = audit_count(engine)
    shown = run(engine, service.users_update, UpdateUser(user_id=client.user_id, kyc_level=3, role="premium"),
                actor=admin)
    assert (shown.kyc_level, shown.role) == (3, "premium")
    assert audit_count(engine) == before + 1
    with engine.connect() as conn:
        old, new = conn.execute(text("SELECT old_values, new_values FROM audit_trails "
                                     "WHERE action = 'admin.users_update'")).one()
    assert (old, new) == ({"kyc_level": 0, "role": "standard"}, {"kyc_level": 3, "role": "premium"})


def test_an_update_that_changes_nothing_writes_no_audit_record(engine):
    admin, client = new_user(engine, 1, Role.admin), new_user(engine, 2)
    before = audit_count(engine)
    run(engine, service.users_update, UpdateUser(user_id=client.user_id, status="active", kyc_level=0), actor=admin)
    assert audit_count(engine) == before


def test_a_refused_update_leaves_the_account_and_the_trail_untouched(engine):
    admin, client = new_user(engine, 1, Role.admin), new_user(engine, 2)
    run(engine, service.users_update, UpdateUser(user_id=client.user_id, status="closed"), actor=admin)
    before = audit_count(engine)
    with pytest.raises(InvalidState):
        run(engine, service.users_update, UpdateUser(user_id=client.user_id, status="active", kyc_level=2),
            actor=admin)
    shown = run(engine, service.users_show, UserId(user_id=client.user_id), actor=admin)
    assert (shown.status, shown.kyc_level) == ("closed", 0)
    assert audit_count(engine) == before


def test_empty_notes_clear_the_notes(engine):
    admin, client = new_user(engine, 1, Role.admin), new_user(engine, 2)
    run(engine, service.users_update, UpdateUser(user_id=client.user_id, notes="  called twice  "), actor=admin)
    shown = run(engine, service.users_update, UpdateUser(user_id=client.user_id, notes=""), actor=admin)
    assert shown.notes is None


def test_users_list_and_admin_users_list_give_the_same_page(engine):
    admin = new_user(engine, 1, Role.admin)
    for n in range(2, 5):
        new_user(engine, n)
    query = UserQuery(limit=2, search="example.com")
    assert run(engine, users_service.list_users, query, actor=admin) == run(engine, service.users_list, query,
                                                                            actor=admin)


def test_search_wildcards_match_only_themselves(engine):
    admin = new_user(engine, 1, Role.admin)
    assert run(engine, service.users_list, UserQuery(search="user_"), actor=admin).total == 0
    assert run(engine, service.users_list, UserQuery(search="user1@"), actor=admin).total == 1


def test_no_one_grants_a_role_above_their_own_or_changes_a_user_above_them(engine):
    staff, client = new_user(engine, 1, Role.staff), new_user(engine, 2)
    admin = new_user(engine, 3, Role.admin)
    manager = Actor(user_id=staff.user_id, role=Role.staff, permissions=frozenset({"users.role"}))
    with pytest.raises(PermissionDenied):
        run(engine, users_service.set_role, SetRole(user_id=client.user_id, role="compliance"), actor=manager)
    with pytest.raises(PermissionDenied):
        run(engine, users_service.set_role, SetRole(user_id=admin.user_id, role="guest"), actor=manager)
    promoted = run(engine, users_service.set_role, SetRole(user_id=client.user_id, role="staff"), actor=manager)
    assert promoted.role == "staff"


def test_settings_update_is_all_or_nothing(engine):
    admin = new_user(engine, 1, Role.admin)
    before = audit_count(engine)
    with pytest.raises(InvalidInput) as err:
        run(engine, service.settings_update, UpdateSettings(values={
            "max_leverage": "10", "trading_enabled": "false", "taker_fee_rate": "1e-3", "nope": "1"}), actor=admin)
    assert [e["key"] for e in err.value.details["errors"]] == ["taker_fee_rate", "nope"]
    assert "allowed" in err.value.details
    shown = {s.key: s.value for s in run(engine, service.settings_show, actor=admin)}
    assert (shown["max_leverage"], shown["trading_enabled"]) == (1, True)
    assert audit_count(engine) == before


def test_settings_update_writes_one_audit_record_of_what_changed(engine):
    admin = new_user(engine, 1, Role.admin)
    before = audit_count(engine)
    run(engine, service.settings_update, UpdateSettings(values={"max_leverage": "3.5", "max_open_orders": "200"}),
        actor=admin)
    assert audit_count(engine) == before + 1
    with engine.connect() as conn:
        old, new = conn.execute(text("SELECT old_values, new_values FROM audit_trails "
                                     "WHERE action = 'admin.settings_update'")).one()
    assert (old, new) == ({"max_leverage": "1"}, {"max_leverage": "3.5"})  # max_open_orders was already 200


def test_maintenance_refuses_non_admins_but_not_admins(engine):
    admin, client = new_user(engine, 1, Role.admin), new_user(engine, 2)
    run(engine, service.settings_update, UpdateSettings(values={"maintenance_mode": "on"}), actor=admin)
    with pytest.raises(MaintenanceMode):
        run(engine, auth_service.whoami, actor=client)
    assert run(engine, auth_service.whoami, actor=admin).role == "admin"


@pytest.mark.parametrize("field", [{"role": "emperor"}, {"status": "deleted"}, {"kyc_level": -1}, {}])
def test_update_requests_outside_their_sets_are_invalid_input(field):
    with pytest.raises(InvalidInput):
        parse(UpdateUser, user_id=uuid.uuid4(), **field)
