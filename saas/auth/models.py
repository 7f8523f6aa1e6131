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

    def set_password(self, password: str) -> None:
        self.password_hash = generate_password_hash(password)
        self.password_changed_at = now_utc()

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def password_fingerprint(self) -> str:
        """Changes whenever the password does: ends sessions and voids reset tokens."""
        return hashlib.sha256(self.password_hash.encode()).hexdigest()[:16]

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_admin(self) -> bool:
        return self.role == ADMIN

    def get_id(self) -> str:
        return f"{self.id}:{self.password_fingerprint}"

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
