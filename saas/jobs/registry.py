"""Jobs declared in code: `@periodic("0 0 * * *", catch_up="latest", overlap="skip")`.

Cron expressions are evaluated by cronsim (five fields, ranges, steps, names, `L`, `#`) in
SCHEDULER_TIMEZONE. DST follows cronsim (as Debian's cron does): a local time that does not exist
runs once at the jump, a local time that repeats runs once."""

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from cronsim import CronSim, CronSimError

from saas.jobs import clock
from saas.jobs.retry import RetryPolicy

CATCH_UP_POLICIES = ("skip", "latest", "all")
DEFAULT_JOB_RETRY = RetryPolicy(retries=3, base=30, cap=600)
OVERLAP_POLICIES = ("skip", "allow")


@dataclass(frozen=True)
class Job:
    name: str
    func: Callable
    cron: str | None = None  # None: run only by hand
    catch_up: str = "latest"
    overlap: str = "skip"
    catch_up_window: timedelta = timedelta(hours=24)
    retry: RetryPolicy = DEFAULT_JOB_RETRY
    lease: float | None = None  # seconds a run may go without renewing; None: JOB_LEASE
    # A task run by hand takes these arguments (name -> type), validated before it is queued.
    arguments: tuple[tuple[str, type], ...] = ()
    description: str = ""

    def parse_arguments(self, raw: dict) -> dict:
        """The declared arguments from `raw` (form text), converted; ValueError says what is
        wrong. Undeclared keys are refused: a form cannot smuggle one in."""
        declared = dict(self.arguments)
        extra = set(raw) - set(declared)
        if extra:
            raise ValueError(f"{self.name} takes no argument {sorted(extra)[0]!r}.")
        parsed = {}
        for name, kind in declared.items():
            text = str(raw.get(name, "")).strip()
            try:
                parsed[name] = kind(text)
            except ValueError:
                raise ValueError(f"{name} must be {kind.__name__}, not {text[:40]!r}.") from None
            if kind is int and not 0 <= parsed[name] < 2**31:  # an id column's range
                raise ValueError(f"{name} is out of range.")
        return parsed

    def slots(self, after: datetime, until: datetime, timezone: str) -> Iterator[datetime]:
        """The job's slots in (after, until], in UTC."""
        zone = ZoneInfo(timezone)
        for slot in CronSim(self.cron, after.astimezone(zone)):
            slot_utc = slot.astimezone(UTC)
            if slot_utc > until:
                return
            if slot_utc > after:
                yield slot_utc

    def last_slots(self, now: datetime, timezone: str, count: int) -> list[datetime]:
        """The job's `count` latest slots at or before `now`, oldest first, in UTC."""
        zone = ZoneInfo(timezone)
        runs = CronSim(self.cron, now.astimezone(zone), reverse=True)
        return sorted(next(runs).astimezone(UTC) for _ in range(count))

    def is_slot(self, moment: datetime, timezone: str) -> bool:
        """Is `moment` (UTC) one of this job's cron slots?"""
        return any(True for _ in self.slots(moment - timedelta(seconds=1), moment, timezone))

    def next_slots(self, now: datetime, timezone: str, count: int) -> list[datetime]:
        zone = ZoneInfo(timezone)
        runs = CronSim(self.cron, now.astimezone(zone))
        return [next(runs).astimezone(UTC) for _ in range(count)]


REGISTRY: dict[str, Job] = {}


def periodic(
    cron: str,
    *,
    name: str | None = None,
    catch_up: str = "latest",
    overlap: str = "skip",
    catch_up_window: timedelta = timedelta(hours=24),
    retry: RetryPolicy | None = None,
    lease: float | None = None,
):
    """Declare a scheduled job. The function takes a `RunContext` and returns a JSON-able
    summary (stored on the run record). It must be idempotent: a slot may run twice."""
    try:
        CronSim(cron, datetime.now(UTC))
    except CronSimError as error:
        raise ValueError(f"bad cron expression {cron!r}: {error}") from error
    if catch_up not in CATCH_UP_POLICIES or overlap not in OVERLAP_POLICIES:
        raise ValueError(f"catch_up must be one of {CATCH_UP_POLICIES}, overlap {OVERLAP_POLICIES}")

    def register(func: Callable) -> Callable:
        job = Job(
            name=name or func.__name__,
            func=func,
            cron=cron,
            catch_up=catch_up,
            overlap=overlap,
            catch_up_window=catch_up_window,
            lease=lease,
            **({"retry": retry} if retry else {}),
        )
        if job.name in REGISTRY and REGISTRY[job.name].func is not func:
            raise ValueError(f"two jobs named {job.name!r}")
        REGISTRY[job.name] = job
        return func

    return register


def task(*, name: str | None = None, arguments: dict[str, type] | None = None, overlap="allow"):
    """Declare a job that runs only by hand (the console's task form, `flask jobs run`), with
    typed arguments; its function takes a RunContext whose `arguments` holds them."""

    def register(func: Callable) -> Callable:
        job = Job(
            name=name or func.__name__,
            func=func,
            overlap=overlap,
            arguments=tuple((arguments or {}).items()),
            description=(func.__doc__ or "").strip().split("\n")[0],
        )
        if job.name in REGISTRY and REGISTRY[job.name].func is not func:
            raise ValueError(f"two jobs named {job.name!r}")
        REGISTRY[job.name] = job
        return func

    return register


@dataclass(frozen=True)
class RunContext:
    """What a job function is told about the run it is in."""

    run_id: int
    job: str
    slot_at: datetime | None  # None for a manual run
    attempt: int
    trigger: str
    arguments: dict = field(default_factory=dict)

    @property
    def as_of(self) -> datetime:
        """The moment the run stands for: its slot, or now for a manual run."""
        return self.slot_at or clock.now()


def get_job(name: str) -> Job:
    try:
        return REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(REGISTRY)) or "none"
        raise LookupError(f"No job named {name!r} (known: {known})") from None
