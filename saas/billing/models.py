"""Cards on file. Until Stripe lands these are plain local rows that drive the expiry banner."""

from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from saas.auth.models import User
from saas.database import now_utc
from saas.extensions import db


class Card(db.Model):
    __tablename__ = "cards"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    brand: Mapped[str] = mapped_column(String(32))
    last4: Mapped[str] = mapped_column(String(4))
    exp_month: Mapped[int]
    exp_year: Mapped[int]
    expiring_soon: Mapped[bool] = mapped_column(default=False, index=True)
    # The expiry (exp_year * 12 + exp_month) the "expires soon" email was sent for.
    expiry_notice_for: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=now_utc)
    updated_at: Mapped[datetime] = mapped_column(default=now_utc, onupdate=now_utc)

    user: Mapped[User] = relationship(
        backref=db.backref("card", uselist=False, cascade="all, delete-orphan")
    )

    @property
    def expiry_key(self) -> int:
        return self.exp_year * 12 + self.exp_month
