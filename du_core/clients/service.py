"""The client operations: a user's own profile, settings, trading preferences and onboarding.

Every operation acts on the caller's own rows only (the actor's user id, never one from the
request). Updates are patches: only the fields a request names change, and each update writes
one audit record of the values before and after, in the same transaction. Shows write nothing.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from du_core.actor import Actor
from du_core.audit.trail import record
from du_core.auth.service import current_user
from du_core.clients import onboarding
from du_core.clients.models import ONBOARDING_STEPS, ClientPreferences, ClientSettings
from du_core.clients.schemas import (
    CompleteStep, OnboardingView, PreferencesView, ProfileView, SettingsView, StepView, UpdatePreferences,
    UpdateProfile, UpdateSettings,
)
from du_core.errors import InvalidInput, NotFound
from du_core.operations import operation
from du_core.users.models import User, UserProfile
from du_core.validation import Request

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.orm import Session

# A profile is complete once the client can be written to: these must all be set.
PROFILE_COMPLETE_WHEN = ("address_line", "city", "country")
PREFERENCES_SET_WHEN = ("trading_style", "risk_tolerance")


def _changes(req: Request) -> dict[str, Any]:
    """The fields the request names, in declaration order.

    Raises:
        InvalidInput: it names none.
    """
    given = [name for name in type(req).model_fields if name in req.model_fields_set]
    if not given:
        raise InvalidInput("nothing to update: give at least one field to change")
    return {name: getattr(req, name) for name in given}


def _apply(row: Any, table: Table, changes: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Set `changes` on `row`; return the changed fields' values before and after.

    Raises:
        InvalidInput: a field that must always have a value was given as empty.
    """
    for name, value in changes.items():
        if value is None and not table.c[name].nullable:
            raise InvalidInput(f"{name.replace('_', ' ')} cannot be cleared", details={"field": name})
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    for name, value in changes.items():
        before = getattr(row, name)
        if before != value:
            old[name], new[name] = before, value
            setattr(row, name, value)
    return old, new


def _defaults(table: Table, names: list[str]) -> dict[str, Any]:
    """The values a new row of `table` would get for `names` (from the models' defaults)."""
    values: dict[str, Any] = {}
    for name in names:
        default = table.c[name].default
        values[name] = None if default is None else default.arg(None) if default.is_callable else default.arg
    return values


def _own_row(session: Session, model: type[Any], user_id: uuid.UUID) -> Any:
    """The caller's row of `model`, locked; created with its defaults the first time."""
    from sqlalchemy.dialects.postgresql import insert

    session.execute(insert(model).values(user_id=user_id).on_conflict_do_nothing())
    return session.get(model, user_id, with_for_update=True)


def _audit(session: Session, actor: Actor, action: str, old: dict[str, Any], new: dict[str, Any],
           marked: str | None) -> None:
    record(session, actor, action, target_type="user", target_id=actor.user_id, old=old, new=new,
           details={"onboarding_step": marked} if marked else None)


# profile


def _profile(session: Session, user: User, *, lock: bool = False) -> UserProfile:
    profile = session.get(UserProfile, user.id, with_for_update=lock)
    if profile is None:
        raise NotFound("this account has no profile; contact support")
    return profile


def _profile_view(user: User, profile: UserProfile) -> ProfileView:
    return ProfileView(
        user_id=user.id, email=user.email, phone=user.phone, full_name=profile.full_name,
        date_of_birth=profile.date_of_birth, nationality=profile.nationality, address_line=profile.address_line,
        city=profile.city, postal_code=profile.postal_code, country=profile.country,
        occupation=profile.occupation, base_currency=profile.base_currency, updated_at=profile.updated_at,
    )


@operation("client.profile_show")
def profile_show(session: Session, actor: Actor, _: None = None) -> ProfileView:
    """The caller's profile, with the email and phone of the account."""
    user = current_user(session, actor)
    return _profile_view(user, _profile(session, user))


@operation("client.profile_update")
def profile_update(session: Session, actor: Actor, req: UpdateProfile) -> ProfileView:
    """Change the named fields of the caller's profile.

    Marks the onboarding step profile_completed once the address, city and country are all set.

    Raises:
        InvalidInput: no field named, or a required field given as empty.
        NotFound: the account has no profile.
    """
    changes = _changes(req)
    user = current_user(session, actor)
    profile = _profile(session, user, lock=True)
    old, new = _apply(profile, UserProfile.__table__, changes)
    session.flush()
    marked = None
    if all(getattr(profile, name) for name in PROFILE_COMPLETE_WHEN):
        marked = "profile_completed" if onboarding.mark_done(session, user.id, "profile_completed") else None
    _audit(session, actor, "client.profile_update", old, new, marked)
    return _profile_view(user, profile)


# settings

_SETTINGS_FIELDS = [name for name in SettingsView.model_fields if name != "updated_at"]


@operation("client.settings_show")
def settings_show(session: Session, actor: Actor, _: None = None) -> SettingsView:
    """The caller's language, time zone and notification choices (the defaults until first changed)."""
    row = session.get(ClientSettings, current_user(session, actor).id)
    if row is None:
        return SettingsView(**_defaults(ClientSettings.__table__, _SETTINGS_FIELDS), updated_at=None)
    return SettingsView.model_validate(row)


@operation("client.settings_update")
def settings_update(session: Session, actor: Actor, req: UpdateSettings) -> SettingsView:
    """Change the named settings of the caller.

    Raises:
        InvalidInput: no field named, or a field given as empty.
    """
    changes = _changes(req)
    row = _own_row(session, ClientSettings, current_user(session, actor).id)
    old, new = _apply(row, ClientSettings.__table__, changes)
    session.flush()
    _audit(session, actor, "client.settings_update", old, new, None)
    return SettingsView.model_validate(row)


# preferences

_PREFERENCES_FIELDS = [name for name in PreferencesView.model_fields if name != "updated_at"]


@operation("client.preferences_show")
def preferences_show(session: Session, actor: Actor, _: None = None) -> PreferencesView:
    """The caller's trading style, risk tolerance, experience, goals and horizon."""
    row = session.get(ClientPreferences, current_user(session, actor).id)
    if row is None:
        return PreferencesView(**_defaults(ClientPreferences.__table__, _PREFERENCES_FIELDS), updated_at=None)
    return PreferencesView.model_validate(row)


@operation("client.preferences_update")
def preferences_update(session: Session, actor: Actor, req: UpdatePreferences) -> PreferencesView:
    """Change the named trading preferences of the caller (goals replace the whole list).

    Marks the onboarding step preferences_set once the trading style and risk tolerance are set.

    Raises:
        InvalidInput: no field named, or the goals given as None (an empty list clears them).
    """
    changes = _changes(req)
    user = current_user(session, actor)
    row = _own_row(session, ClientPreferences, user.id)
    old, new = _apply(row, ClientPreferences.__table__, changes)
    session.flush()
    marked = None
    if all(getattr(row, name) for name in PREFERENCES_SET_WHEN):
        marked = "preferences_set" if onboarding.mark_done(session, user.id, "preferences_set") else None
    _audit(session, actor, "client.preferences_update", old, new, marked)
    return PreferencesView.model_validate(row)


# onboarding


def _onboarding_view(session: Session, user_id: uuid.UUID) -> OnboardingView:
    steps = [
        StepView(step=step, done=at is not None, completed_at=at, self_declared=step in onboarding.SELF_DECLARED)
        for step, at in onboarding.progress(session, user_id).items()
    ]
    completed = sum(s.done for s in steps)
    return OnboardingView(
        steps=steps, next_step=next((s.step for s in steps if not s.done), None), completed=completed,
        total=len(steps), percent=completed * 100 // len(steps),
    )


@operation("client.onboarding_status")
def onboarding_status(session: Session, actor: Actor, _: None = None) -> OnboardingView:
    """Every onboarding step in order, done or not, with the next one and the percentage done."""
    return _onboarding_view(session, current_user(session, actor).id)


@operation("client.onboarding_complete")
def onboarding_complete(session: Session, actor: Actor, req: CompleteStep) -> OnboardingView:
    """Declare one of the steps that are the client's to declare (accepting the risk disclosure, the terms).

    Repeating a step already done changes nothing.

    Raises:
        InvalidInput: the step is unknown, or the platform records it by itself.
    """
    step = req.step.strip().lower()
    allowed = {"allowed": list(onboarding.SELF_DECLARED)}
    if step not in ONBOARDING_STEPS:
        raise InvalidInput(f"unknown onboarding step; you may complete: {', '.join(onboarding.SELF_DECLARED)}",
                           details={"field": "step", **allowed})
    if step not in onboarding.SELF_DECLARED:
        raise InvalidInput(f"{step} cannot be completed by hand: {onboarding.RECORDED_BY_PLATFORM[step]}",
                           details={"field": "step", **allowed})
    user = current_user(session, actor)
    if onboarding.mark_done(session, user.id, step):
        record(session, actor, "client.onboarding_complete", target_type="user", target_id=user.id,
               old={"step": step, "done": False}, new={"step": step, "done": True})
    else:
        record(session, actor, "client.onboarding_complete", target_type="user", target_id=user.id,
               details={"step": step, "already_done": True})
    return _onboarding_view(session, user.id)
