"""GET /billing (the card on file), and the expiring-card banner on every customer page."""

from flask import Blueprint, has_request_context, render_template
from flask_login import current_user, login_required

bp = Blueprint("billing", __name__)


@bp.get("/billing")
@login_required
def billing():
    return render_template("billing/index.html", card=current_user.card)


@bp.app_context_processor
def expiring_card_banner() -> dict:
    """The flagged card of a logged-in customer, for the banner in base.html."""
    if not has_request_context() or not current_user.is_authenticated:
        return {}  # emails are rendered outside requests
    card = current_user.card
    return {"expiring_card": card if card is not None and card.expiring_soon else None}
