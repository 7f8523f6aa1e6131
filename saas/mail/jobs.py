"""The outbox sweep as a scheduled job."""

from saas.jobs.registry import RunContext, periodic
from saas.mail import services


@periodic("* * * * *", catch_up="skip", overlap="skip")
def sweep_outbox(run: RunContext) -> dict:
    """Re-enqueue emails the queue lost; take back emails whose worker died mid-send."""
    return services.sweep()
