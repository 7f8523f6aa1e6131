"""The feature packages, gathered in one place. Importing a feature registers its tasks with
Huey and its jobs with the scheduler's registry, so every process that imports this module
(the app factory, hence the web app and the scheduler; the worker) knows every one by name."""

from saas import admin, auth, billing, contact, mail, reports

FEATURES = (auth, mail, billing, contact, reports, admin)
BLUEPRINTS = (auth.bp, contact.bp, billing.bp, reports.bp, admin.bp)
