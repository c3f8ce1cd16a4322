"""The user forms: a new user, a role, a new password, an API token's name."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session

from denialflow.domain.types import Role
from denialflow.models.tables import User
from denialflow.web.forms.common import FieldErrors

MIN_PASSWORD = 8
MAX_PASSWORD = 200
MAX_TOKEN_NAME = 80
# No dots: usernames become element ids that HTMX looks up to restore focus after a swap.
USERNAME = re.compile(r"^[a-z][a-z0-9_-]{1,59}$")


@dataclass(frozen=True)
class NewUser:
    username: str
    full_name: str
    role: str
    password: str
    errors: FieldErrors


def check_new_user(
    session: Session, username: str, full_name: str, role: str, password: str
) -> NewUser:
    errors: FieldErrors = {}
    username = username.strip().lower()
    full_name = full_name.strip()
    if not USERNAME.match(username):
        errors["username"] = (
            f"Username: {username!r} must start with a letter and be 2 to 60 lowercase "
            "letters, digits, dashes or underscores"
        )
    elif session.get(User, username) is not None:
        errors["username"] = f"Username: {username!r} is taken"
    if not full_name:
        errors["full_name"] = "Full name: required (shown on notes and in the audit log)"
    elif len(full_name) > 120:
        errors["full_name"] = "Full name: at most 120 characters"
    if error := role_error(role):
        errors["role"] = error
    if len(password) < MIN_PASSWORD:
        errors["password"] = f"Initial password: at least {MIN_PASSWORD} characters"
    elif len(password) > MAX_PASSWORD:
        errors["password"] = f"Initial password: at most {MAX_PASSWORD} characters"
    return NewUser(username, full_name, role, password, errors)


def role_error(role: str) -> str:
    """Why `role` is not a role; empty when it is."""
    if role in {r.value for r in Role}:
        return ""
    return f"Role: {role!r} is not one of specialist, supervisor, admin"


def new_password_error(password: str) -> str:
    """Why `password` cannot replace a user's password; empty when it can."""
    if MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        return ""
    return f"New password: {MIN_PASSWORD} to {MAX_PASSWORD} characters; nothing was changed."


def check_token_name(name: str) -> tuple[str, str]:
    """The token's name, and why it cannot be used (empty when it can)."""
    name = name.strip()
    if name and len(name) <= MAX_TOKEN_NAME:
        return name, ""
    return name, (
        f"Token name: 1 to {MAX_TOKEN_NAME} characters saying what uses it (e.g. clearinghouse "
        "sync); nothing was issued."
    )
