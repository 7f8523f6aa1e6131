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
