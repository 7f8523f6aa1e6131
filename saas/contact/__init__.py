"""The contact form: answers at once, emails go out from the worker."""

from saas.contact.views import bp

__all__ = ["bp"]
