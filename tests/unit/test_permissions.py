"""The permission table against every registered operation and every role."""

from __future__ import annotations

import uuid

import pytest

from du_core.actor import PERMISSIONS, Actor, Audience, Role, is_allowed
from du_core.errors import AuthRequired, PermissionDenied
from du_core.operations import load_all

REGISTRY = load_all()


def test_every_operation_has_a_permission_entry_and_every_entry_an_operation():
    assert sorted(set(REGISTRY) - set(PERMISSIONS)) == [], "operations nobody may run: add them to PERMISSIONS"
    assert sorted(set(PERMISSIONS) - set(REGISTRY)) == [], "permission entries for operations that do not exist"


CASES = [(name, role) for name in sorted(REGISTRY) for role in [*Role, None]]


@pytest.mark.parametrize("name,role", CASES, ids=[f"{n}-{r.value if r else 'anonymous'}" for n, r in CASES])
def test_the_decorator_enforces_the_table(name, role):
    actor = Actor(user_id=uuid.uuid4(), role=role) if role else Actor.anonymous()
    allowed = is_allowed(actor, name)
    try:
        # No session: an allowed call gets past the guard and fails on the missing database instead.
        REGISTRY[name](None, actor, None)
    except (PermissionDenied, AuthRequired):
        assert not allowed, f"{name} refused {role}"
    except Exception:  # noqa: BLE001 - anything else means the guard let the call through
        assert allowed, f"{name} let {role} through"
    else:
        assert allowed


def test_admin_operations_are_admin_only():
    for name, rule in PERMISSIONS.items():
        if name.startswith(("admin.", "users.")) and name != "admin.bootstrap":
            assert rule == frozenset({Role.admin}), name


def test_extra_permissions_grant_one_named_operation():
    actor = Actor(user_id=uuid.uuid4(), role=Role.staff, permissions=frozenset({"users.list"}))
    assert is_allowed(actor, "users.list") and not is_allowed(actor, "users.role")


def test_unknown_operations_are_denied_to_everyone_even_admins():
    assert not is_allowed(Actor(user_id=uuid.uuid4(), role=Role.admin), "no.such_operation")


def test_self_operations_need_a_login():
    assert all(not is_allowed(Actor.anonymous(), n) for n, r in PERMISSIONS.items() if r is Audience.self)
