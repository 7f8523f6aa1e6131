"""Billing: cards on file (Stripe comes with the billing issue)."""
