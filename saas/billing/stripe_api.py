"""Every call to Stripe, and nothing else: the rest of the product never imports `stripe`.

Calls made from the worker classify failures for the shared retry policy: network errors, 5xx
and 429 are TransientError (429 carries its Retry-After), other 4xx are PermanentError."""

import functools
import json
from dataclasses import dataclass

import stripe
from flask import current_app

from saas.jobs.retry import PermanentError, TransientError


class StripeNotConfigured(RuntimeError):
    pass


class StripeTransientError(TransientError):
    """Stripe unreachable, 5xx, or 429 (with its Retry-After)."""


def configured() -> bool:
    return bool(current_app.config["STRIPE_SECRET_KEY"])


def _client() -> stripe.StripeClient:
    config = current_app.config
    if not config["STRIPE_SECRET_KEY"]:
        raise StripeNotConfigured("Set STRIPE_SECRET_KEY (and STRIPE_WEBHOOK_SECRET) to bill")
    return _client_for(
        config["STRIPE_SECRET_KEY"], config["STRIPE_API_BASE"], config["STRIPE_TIMEOUT"]
    )


@functools.cache
def _client_for(secret_key: str, api_base: str | None, timeout: float) -> stripe.StripeClient:
    """One client (and its HTTP connection pool) per configuration, not one per call."""
    return stripe.StripeClient(
        secret_key,
        base_addresses={"api": api_base.rstrip("/")} if api_base else None,
        # Our retry policy decides, in the worker; the SDK must not retry on its own.
        max_network_retries=0,
        http_client=stripe.RequestsClient(timeout=timeout),
    )


def classified(error: Exception) -> Exception:
    """A Stripe SDK error as TransientError (retry) or PermanentError (don't)."""
    if isinstance(error, stripe.RateLimitError):
        retry_after = (error.headers or {}).get("Retry-After") if error.headers else None
        return StripeTransientError(
            f"Stripe 429: {error.user_message or error}",
            float(retry_after) if retry_after else None,
        )
    if isinstance(error, stripe.APIConnectionError):
        return StripeTransientError(f"Stripe unreachable: {error}")
    if isinstance(error, stripe.StripeError):
        status = error.http_status or 0
        if status >= 500 or status in (408, 409):
            return StripeTransientError(f"Stripe {status}: {error.user_message or error}")
        return PermanentError(f"Stripe {status}: {error.user_message or error}")
    return error


def call(method, *args, **kwargs) -> dict:
    """Run one SDK call; the object comes back as a plain dict, failures come out classified."""
    try:
        return method(*args, **kwargs).to_dict()
    except stripe.StripeError as error:
        raise classified(error) from error


def create_customer(*, email: str, user_id: int) -> str:
    customer = call(
        _client().v1.customers.create,
        params={"email": email, "metadata": {"user_id": str(user_id)}},
        options={"idempotency_key": f"customer-for-user-{user_id}"},
    )
    return customer["id"]


def create_checkout_session(
    *, customer_id: str, price_id: str, user_id: int, success_url: str, cancel_url: str
) -> str:
    session = call(
        _client().v1.checkout.sessions.create,
        params={
            "mode": "subscription",
            "customer": customer_id,
            "client_reference_id": str(user_id),
            "line_items": [{"price": price_id, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
        },
    )
    return session["url"]


def create_portal_session(*, customer_id: str, return_url: str) -> str:
    session = call(
        _client().v1.billing_portal.sessions.create,
        params={"customer": customer_id, "return_url": return_url},
    )
    return session["url"]


@dataclass(frozen=True)
class SubscriptionState:
    id: str
    customer_id: str
    status: str
    price_id: str | None
    current_period_end: int | None
    cancel_at_period_end: bool


def retrieve_subscription(subscription_id: str) -> SubscriptionState:
    subscription = call(_client().v1.subscriptions.retrieve, subscription_id)
    items = subscription["items"]["data"] if subscription.get("items") else []
    first = items[0] if items else None
    return SubscriptionState(
        id=subscription["id"],
        customer_id=_id(subscription["customer"]),
        status=subscription["status"],
        price_id=_id(first["price"]) if first else None,
        # Current API versions keep the period on the subscription items.
        current_period_end=(first.get("current_period_end") if first else None)
        or subscription.get("current_period_end"),
        cancel_at_period_end=bool(subscription.get("cancel_at_period_end")),
    )


@dataclass(frozen=True)
class InvoiceState:
    id: str
    customer_id: str
    number: str | None
    status: str
    amount_due: int
    amount_paid: int
    currency: str
    hosted_invoice_url: str | None
    created: int
    subscription_id: str | None


def retrieve_invoice(invoice_id: str) -> InvoiceState:
    invoice = call(_client().v1.invoices.retrieve, invoice_id)
    return InvoiceState(
        id=invoice["id"],
        customer_id=_id(invoice["customer"]),
        number=invoice.get("number"),
        status=invoice["status"],
        amount_due=invoice.get("amount_due") or 0,
        amount_paid=invoice.get("amount_paid") or 0,
        currency=invoice.get("currency") or "usd",
        hosted_invoice_url=invoice.get("hosted_invoice_url"),
        created=invoice["created"],
        subscription_id=_invoice_subscription(invoice),
    )


def _invoice_subscription(invoice: dict) -> str | None:
    """Current API versions name the subscription under parent.subscription_details."""
    details = (invoice.get("parent") or {}).get("subscription_details") or {}
    return _id(details.get("subscription") or invoice.get("subscription"))


@dataclass(frozen=True)
class CardDetails:
    payment_method_id: str
    brand: str
    last4: str
    exp_month: int
    exp_year: int


def default_card(customer_id: str) -> CardDetails | None:
    """The customer's default payment method, if it is a card."""
    customer = call(
        _client().v1.customers.retrieve,
        customer_id,
        params={"expand": ["invoice_settings.default_payment_method"]},
    )
    method = (customer.get("invoice_settings") or {}).get("default_payment_method")
    if isinstance(method, str):
        method = call(_client().v1.payment_methods.retrieve, method)
    if not method or method.get("type") != "card":
        return None
    card = method["card"]
    return CardDetails(
        payment_method_id=method["id"],
        brand=card["brand"],
        last4=card["last4"],
        exp_month=int(card["exp_month"]),
        exp_year=int(card["exp_year"]),
    )


def verified_event(payload: bytes, signature: str | None):
    """The body parsed as JSON (None if it is not JSON), if `Stripe-Signature` proves it came
    from Stripe recently; else ValueError. Its shape is the caller's to check."""
    secret = current_app.config["STRIPE_WEBHOOK_SECRET"]
    if not secret:
        raise StripeNotConfigured("STRIPE_WEBHOOK_SECRET is not set")
    try:
        stripe.WebhookSignature.verify_header(
            payload, signature or "", secret, stripe.Webhook.DEFAULT_TOLERANCE
        )
    except (stripe.SignatureVerificationError, ValueError) as error:
        raise ValueError(f"Invalid Stripe webhook: {error}") from error
    try:
        return json.loads(payload)
    except (ValueError, RecursionError):  # not JSON, or nested too deep to parse
        return None


def _id(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return value["id"]
