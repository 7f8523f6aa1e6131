"""Every module that declares tasks or jobs. The app, worker and scheduler import this, so each
process knows every job by name."""

import saas.auth.jobs  # noqa: F401
import saas.billing.jobs  # noqa: F401
import saas.billing.tasks  # noqa: F401
import saas.jobs.maintenance  # noqa: F401
import saas.jobs.runner  # noqa: F401
import saas.mail.jobs  # noqa: F401
import saas.mail.tasks  # noqa: F401
import saas.reports.jobs  # noqa: F401
import saas.reports.tasks  # noqa: F401
