"""Public pages: landing, pricing, terms, privacy."""

from flask import Blueprint, current_app, render_template

bp = Blueprint("pages", __name__)


@bp.get("/")
def index():
    return render_template("pages/index.html")


@bp.get("/pricing")
def pricing():
    return render_template("pages/pricing.html", plans=current_app.config["BILLING_PLANS"])


@bp.get("/terms")
def terms():
    return render_template("pages/terms.html")


@bp.get("/privacy")
def privacy():
    return render_template("pages/privacy.html")
