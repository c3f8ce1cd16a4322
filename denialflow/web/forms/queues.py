"""The queue forms: a new queue, and a member to add to one."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session

from denialflow.domain.types import Role
from denialflow.models.tables import Queue, User
from denialflow.web.forms.common import FieldErrors

QUEUE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{1,59}$")


@dataclass(frozen=True)
class NewQueue:
    name: str
    title: str
    # Empty for a queue without one.
    supervisor: str
    errors: FieldErrors


def check_new_queue(session: Session, name: str, title: str, supervisor: str) -> NewQueue:
    errors: FieldErrors = {}
    name = name.strip().lower()
    title = title.strip()
    supervisor = supervisor.strip()
    if not QUEUE_NAME.match(name):
        errors["name"] = f"Name: {name!r} must be 2 to 60 lowercase letters, digits or dashes"
    elif session.get(Queue, name) is not None:
        errors["name"] = f"Name: a queue {name!r} already exists"
    if not title:
        errors["title"] = "Title: required (what the team calls this queue)"
    elif len(title) > 120:
        errors["title"] = "Title: at most 120 characters"
    if supervisor:
        boss = session.get(User, supervisor)
        if boss is None or boss.role != Role.SUPERVISOR.value:
            errors["supervisor"] = f"Supervisor: {supervisor!r} is not a supervisor"
    return NewQueue(name, title, supervisor, errors)


def check_new_member(session: Session, username: str) -> tuple[str, str]:
    """The username to add, and why it cannot be added (empty when it can)."""
    username = username.strip().lower()
    if not username:
        return username, "Add member: choose a user"
    if session.get(User, username) is None:
        return username, f"Add member: choose a user; {username!r} is not one"
    return username, ""
