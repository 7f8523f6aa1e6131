"""Accounts."""

import hashlib
from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column
from werkzeug.security import check_password_hash, generate_password_hash

from saas.database import now_utc
from saas.extensions import db

MEMBER = "member"
ADMIN = "admin"


class User(UserMixin, db.Model):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(20), default=MEMBER)
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    password_changed_at: Mapped[datetime] = mapped_column(default=now_utc)
    last_seen_at: Mapped[datetime | None] = mapped_column(index=True)
    sign_in_count: Mapped[int] = mapped_column(default=0)
    current_sign_in_at: Mapped[datetime | None]
    current_sign_in_ip: Mapped[str | None] = mapped_column(String(45))
    last_sign_in_at: Mapped[datetime | None]
    last_sign_in_ip: Mapped[str | None] = mapped_column(String(45))
    # Scheduled jobs' memory, so a rerun sends nothing twice.
    inactivity_reminded_at: Mapped[datetime | None]
    deletion_warned_at: Mapped[datetime | None]
    last_digest_at: Mapped[datetime | None]
    # In every session id and remember cookie: raising it ends them all, everywhere.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")
    # Raised by each confirmed email change, so no link issued before it works after it.
    email_version: Mapped[int] = mapped_column(default=0, server_default="0")
    email_verified_at: Mapped[datetime | None]

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.password_changed_at = now_utc()
        self.end_sessions()

    def end_sessions(self) -> None:
        """Every session and remember cookie of this account stops working."""
        self.session_version = (self.session_version or 0) + 1

    def change_email(self, new_email: str) -> None:
        """A confirmed change: the new address is proven, older links and sessions end."""
        self.email = new_email
        self.email_version = (self.email_version or 0) + 1
        self.email_verified_at = now_utc()
        self.end_sessions()

    def disable(self) -> None:
        self.active = False
        self.end_sessions()

    @property
    def email_verified(self) -> bool:
        return self.email_verified_at is not None

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def password_fingerprint(self) -> str:
        """Changes whenever the password does: voids reset tokens."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def get_id(self) -> str:
        return f"{self.id}:{self.session_version or 0}"

    def record_sign_in(self, ip: str | None) -> None:
        self.last_sign_in_at, self.last_sign_in_ip = (
            self.current_sign_in_at,
            self.current_sign_in_ip,
        )
        self.current_sign_in_at, self.current_sign_in_ip = now_utc(), ip
        self.sign_in_count += 1
        self.last_seen_at = self.current_sign_in_at

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email}>"
