"""Stripe's API as a local HTTP server (pytest-httpserver) answering in the current API shape,
and webhook events signed with the real algorithm."""

import json
import time

import stripe
from pytest_httpserver import HTTPServer
from werkzeug import Response

WEBHOOK_SECRET = "whsec_test_secret"
CUSTOMER = "cus_TEST123"
SUBSCRIPTION = "sub_TEST123"


def customer_with_card(last4: str, exp_month: int, exp_year: int, brand: str = "visa") -> dict:
    return {
        "id": CUSTOMER,
        "object": "customer",
        "email": "customer@example.com",
        "invoice_settings": {
            "default_payment_method": {
                "id": f"pm_{last4}",
                "object": "payment_method",
                "type": "card",
                "card": {
                    "brand": brand,
                    "last4": last4,
                    "exp_month": exp_month,
                    "exp_year": exp_year,
                },
            }
        },
    }


def subscription(status: str = "active", price: str = "price_pro_monthly", **extra) -> dict:
    return {
        "id": SUBSCRIPTION,
        "object": "subscription",
        "customer": CUSTOMER,
        "status": status,
        "cancel_at_period_end": False,
        "items": {
            "object": "list",
            "data": [
                {
                    "id": "si_TEST",
                    "object": "subscription_item",
                    "current_period_end": 1798761600,  # 2027-01-01
                    "price": {"id": price, "object": "price"},
                }
            ],
        },
        **extra,
    }


def invoice(invoice_id: str, status: str, amount: int = 1900) -> dict:
    return {
        "id": invoice_id,
        "object": "invoice",
        "customer": CUSTOMER,
        "number": f"INV-{invoice_id[-4:]}",
        "status": status,
        "amount_due": amount,
        "amount_paid": amount if status == "paid" else 0,
        "currency": "usd",
        "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice_id}",
        "created": 1795000000,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": SUBSCRIPTION},
        },
    }


def stripe_error(status: int, message: str, error_type: str = "invalid_request_error", **headers):
    body = json.dumps({"error": {"type": error_type, "message": message}})
    return Response(body, status=status, headers=headers, content_type="application/json")


class FakeStripe:
    def __init__(self, server: HTTPServer):
        self.server = server

    def on(self, method: str, path: str, body: dict | Response, *, once: bool = False) -> None:
        expect = self.server.expect_oneshot_request if once else self.server.expect_request
        handler = expect(path, method=method)
        if isinstance(body, Response):
            handler.respond_with_response(body)
        else:
            handler.respond_with_json(body)

    def calls(self, method: str, path: str) -> list:
        return [
            request
            for request, _ in self.server.log
            if request.method == method and request.path == path
        ]

    def standard(self, *, card=("4242", 12, 2030)) -> "FakeStripe":
        self.on("POST", "/v1/customers", {"id": CUSTOMER, "object": "customer"})
        self.on(
            "POST",
            "/v1/checkout/sessions",
            {
                "id": "cs_test_1",
                "object": "checkout.session",
                "mode": "subscription",
                "url": "https://checkout.stripe.com/c/pay/cs_test_1",
            },
        )
        self.on(
            "POST",
            "/v1/billing_portal/sessions",
            {
                "id": "bps_1",
                "object": "billing_portal.session",
                "url": "https://billing.stripe.com/p/session/test_1",
            },
        )
        self.on("GET", f"/v1/subscriptions/{SUBSCRIPTION}", subscription())
        self.on("GET", f"/v1/customers/{CUSTOMER}", customer_with_card(*card))
        return self


def signed_event(event_type: str, obj: dict, *, event_id: str | None = None, age: int = 0):
    """(body, headers) of a webhook delivery signed `age` seconds ago."""
    event = {
        "id": event_id or f"evt_{time.time_ns()}",
        "object": "event",
        "type": event_type,
        "created": int(time.time()) - age,
        "data": {"object": obj},
    }
    body = json.dumps(event)
    header = stripe.WebhookSignature.generate_signature_header(
        body, WEBHOOK_SECRET, int(time.time()) - age
    )
    return body, {"Stripe-Signature": header, "Content-Type": "application/json"}


def fake_stripe_env(app_env: dict, httpserver, monkeypatch) -> dict:
    """The test's environment with Stripe's API at the local fake, webhooks signed with its
    secret (for the app in this process and the processes the test starts)."""
    stripe_env = {
        "STRIPE_SECRET_KEY": "sk_test_fake",
        "STRIPE_PUBLISHABLE_KEY": "pk_test_fake",
        "STRIPE_WEBHOOK_SECRET": WEBHOOK_SECRET,
        "STRIPE_API_BASE": httpserver.url_for("/").rstrip("/"),
        "STRIPE_TIMEOUT": "1",
    }
    for name, value in stripe_env.items():
        monkeypatch.setenv(name, value)
    return {**app_env, **stripe_env}
