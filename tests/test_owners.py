"""Owners and the teacher: who may change what on a shared server, and the door that locks after wrong tries."""

from __future__ import annotations

import pytest

from aecore import settings
from aecore.owners import (LOCK_SECONDS, TRIES, WINDOW, Locked, TeacherDoor, check_owner, check_token, label, new_token,
                           owner_of, teacher_door, visitor)

PASSWORD = "correct horse battery"


@pytest.fixture
def classroom(monkeypatch):
    monkeypatch.setenv(settings.TEACHER_PASSWORD, PASSWORD)


def test_a_token_stands_for_one_owner_and_the_owner_reveals_nothing_of_it():
    a, b = new_token(), new_token()
    assert a != b and check_token(a) == a
    assert owner_of(a) == owner_of(a) != owner_of(b)
    assert check_owner(owner_of(a)) == owner_of(a) and a not in owner_of(a)
    assert label(owner_of(a)).startswith("Visitor ") and label("") == "No owner"


@pytest.mark.parametrize("token", [None, "", "short", "a" * 65, "x" * 30 + "<", "x" * 30 + ";", 1234567890123456789012])
def test_a_malformed_token_is_refused(token):
    with pytest.raises(ValueError, match="owner token"):
        check_token(token)


@pytest.mark.parametrize("owner", [None, "A" * 32, "g" * 32, "0" * 31, "0" * 33, 7])
def test_a_malformed_owner_is_refused(owner):
    with pytest.raises(ValueError, match="owner must"):
        check_owner(owner)


def test_without_a_teacher_everyone_may_change_everything(monkeypatch):
    monkeypatch.delenv(settings.TEACHER_PASSWORD, raising=False)
    me, other = visitor(new_token()), owner_of(new_token())
    assert not me.classroom and me.may_change(other) and me.may_change("")


def test_in_a_class_only_the_owner_and_the_teacher_may_change(classroom):
    token, teachers = new_token(), new_token()
    assert teacher_door().enter(PASSWORD, owner_of(teachers))
    me, someone, teacher = visitor(token), visitor(new_token()), visitor(teachers)
    mine = owner_of(token)
    assert me.classroom and me.may_change(mine) and me.owns(mine)
    assert not someone.may_change(mine) and not someone.owns(mine)
    assert not me.may_change("")  # a run from before owners, or imported: the teacher's to change
    assert teacher.may_change(mine) and teacher.may_change("")
    teacher_door().leave(owner_of(teachers))
    assert not visitor(teachers).teacher and not visitor(teachers).may_change(mine)


def test_teacher_means_nothing_without_a_password(monkeypatch):
    token = new_token()
    monkeypatch.setenv(settings.TEACHER_PASSWORD, PASSWORD)
    assert teacher_door().enter(PASSWORD, owner_of(token))
    assert visitor(token).teacher
    monkeypatch.delenv(settings.TEACHER_PASSWORD)
    v = visitor(token)
    teacher_door().leave(owner_of(token))
    assert not v.teacher and not v.classroom


def test_the_door_opens_to_the_password_and_locks_after_wrong_tries(classroom):
    now = [1000.0]
    door = TeacherDoor(clock=lambda: now[0])
    assert door.enter(PASSWORD)
    for _ in range(TRIES - 1):
        assert not door.enter("guess")
        now[0] += 1
    assert not door.enter("guess")  # the fifth wrong try within the window locks the door
    with pytest.raises(Locked) as locked:
        door.enter(PASSWORD)  # even the right password is not heard while locked
    assert 0 < locked.value.seconds <= LOCK_SECONDS
    now[0] += LOCK_SECONDS + 0.1
    assert door.enter(PASSWORD)


def test_wrong_tries_spread_over_more_than_the_window_do_not_lock(classroom):
    now = [0.0]
    door = TeacherDoor(clock=lambda: now[0])
    for _ in range(3 * TRIES):
        assert not door.enter("guess")
        now[0] += WINDOW / (TRIES - 1) + 0.1
    assert door.enter(PASSWORD)


def test_without_a_password_the_door_never_opens(monkeypatch):
    monkeypatch.delenv(settings.TEACHER_PASSWORD, raising=False)
    assert not TeacherDoor().enter("")


def test_the_password_is_checked_and_never_handed_to_workers(monkeypatch):
    monkeypatch.setenv(settings.TEACHER_PASSWORD, "short")
    with pytest.raises(ValueError, match="8 to 256 characters, got 5") as err:
        settings.teacher_password()
    assert "short" not in str(err.value)
    assert any("AECORE_TEACHER_PASSWORD" in p for p in settings.problems())
    monkeypatch.setenv(settings.TEACHER_PASSWORD, PASSWORD)
    monkeypatch.setenv("AECORE_MAX_JOBS", "1")
    handed = settings.current()
    assert "AECORE_MAX_JOBS" in handed and settings.TEACHER_PASSWORD not in handed
