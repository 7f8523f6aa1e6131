"""Render an email from templates/email/<name>.{subject.txt,txt,html}."""

from dataclasses import dataclass

from flask import render_template


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str


def render_email(template: str, context: dict) -> RenderedEmail:
    subject = render_template(f"email/{template}.subject.txt", **context)
    return RenderedEmail(
        subject=" ".join(subject.split()),
        text=render_template(f"email/{template}.txt", **context),
        html=render_template(f"email/{template}.html", **context),
    )


def load_email_templates(app) -> None:
    """Compile every email template now: a worker's first burst would otherwise compile each one
    in every thread at once (Jinja does not lock a cache miss), under one GIL."""
    environment = app.jinja_env
    for name in environment.list_templates(filter_func=lambda name: name.startswith("email/")):
        environment.get_template(name)
