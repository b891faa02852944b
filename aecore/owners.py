"""Who may change what on a shared server: anonymous owners, and a teacher who may change everything.

Each browser holds a random token (the app keeps it in a cookie); jobs and runs record only its digest, the
owner, so a run's files, an export or the teacher's list never hold a token someone could act with. With no
teacher password set (`AECORE_TEACHER_PASSWORD`) one person uses the app and every visitor may change
everything. With one, a visitor may rename, delete, stop, pause or resume only what they own, and the teacher
anything; runs from before owners, or imported, have no owner, so only the teacher may change them. Everyone
may still see, compare, map and download every run: that is the point of a class.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from . import settings

TOKEN = re.compile(r"[A-Za-z0-9_-]{22,64}")
OWNER = re.compile(r"[0-9a-f]{32}")
TRIES = 5  # wrong passwords within WINDOW seconds lock the teacher's door for LOCK_SECONDS
WINDOW = 60.0
LOCK_SECONDS = 60.0


class Locked(Exception):
    """Too many wrong teacher passwords lately; `seconds` until the next try is heard."""

    def __init__(self, seconds: float):
        super().__init__(f"too many wrong passwords: try again in {max(1, round(seconds))} s")
        self.seconds = seconds


def new_token() -> str:
    """A browser's secret: 32 random URL-safe characters."""
    return secrets.token_urlsafe(24)


def check_token(token: object) -> str:
    """A token as a browser sent it (a cookie: outside input), or ValueError."""
    if not isinstance(token, str) or not TOKEN.fullmatch(token):
        raise ValueError("an owner token must be 22 to 64 letters, digits, '-' or '_'")
    return token


def owner_of(token: str) -> str:
    """The owner a token stands for: what jobs and runs record."""
    return hashlib.sha256(b"aecore-owner:" + check_token(token).encode()).hexdigest()[:32]


def check_owner(owner: object) -> str:
    """An owner read back from a run folder or a job ("" for none), or ValueError."""
    if owner == "" or (isinstance(owner, str) and OWNER.fullmatch(owner)):
        return owner  # type: ignore[return-value]
    raise ValueError("an owner must be empty or 32 lowercase hex digits")


def label(owner: str) -> str:
    """A short name for an owner a person can read aloud in class, e.g. "Visitor 3F9A"."""
    return f"Visitor {owner[:4].upper()}" if owner else "No owner"


@dataclass(frozen=True)
class Visitor:
    """One browser: its owner, whether it entered the teacher's password, and whether the server has a class."""

    owner: str
    teacher: bool = False
    classroom: bool = False  # a teacher password is set: owners count

    def may_change(self, owner: str) -> bool:
        """Whether this visitor may rename, delete, stop, pause or resume what `owner` owns."""
        if not self.classroom or self.teacher:
            return True
        return bool(owner) and hmac.compare_digest(owner, self.owner)

    def owns(self, owner: str) -> bool:
        return bool(owner) and hmac.compare_digest(owner, self.owner)


def visitor(token: str) -> Visitor:
    """The visitor holding `token`, as the server's settings and its teacher's door make them."""
    classroom, owner = bool(settings.teacher_password()), owner_of(token)
    return Visitor(owner, classroom and _door.is_teacher(owner), classroom)


class TeacherDoor:
    """Checks teacher passwords in constant time; TRIES wrong ones within WINDOW s lock it for LOCK_SECONDS.

    One door per server, whoever knocks: a lock per browser would let a script try from many browsers. It
    remembers which owners came in, so the teacher stays the teacher after a refresh and in a new tab of the
    same browser, until they leave or the server restarts.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self.clock = clock
        self._wrong: deque[float] = deque()
        self._locked_until = 0.0
        self._teachers: set[str] = set()
        self._lock = threading.Lock()

    def is_teacher(self, owner: str) -> bool:
        with self._lock:
            return bool(owner) and owner in self._teachers

    def leave(self, owner: str) -> None:
        with self._lock:
            self._teachers.discard(owner)

    def enter(self, password: str, owner: str = "") -> bool:
        """Whether `password` is the teacher's (then `owner` is the teacher from now on); Locked while the door
        is locked (the password unheard)."""
        expected = settings.teacher_password()
        with self._lock:
            now = self.clock()
            if now < self._locked_until:
                raise Locked(self._locked_until - now)
            right = bool(expected) and hmac.compare_digest(password.encode(), expected.encode())
            if right:
                if owner:
                    self._teachers.add(check_owner(owner))
                return True
            while self._wrong and self._wrong[0] <= now - WINDOW:
                self._wrong.popleft()
            self._wrong.append(now)
            if len(self._wrong) >= TRIES:
                self._wrong.clear()
                self._locked_until = now + LOCK_SECONDS
            return False


_door = TeacherDoor()


def teacher_door() -> TeacherDoor:
    """The server's one door."""
    return _door
