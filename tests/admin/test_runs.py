"""/admin/runs over HTTP: the history and its filters, a run's page, and the actions on runs
(retry, discard, revoke, retry every failed run of a job), each in the audit log."""

import re
from datetime import timedelta

import pytest

from saas.admin.console import PAGE_SIZE
from saas.admin.models import AuditEntry
from saas.auth.models import User
from saas.database import now_utc
from saas.extensions import db
from saas.jobs.models import JobRun
from tests.admin.test_console import log_in_admin

JOB = "mark_expiring_cards"  # succeeds with no customers to look at
OTHER = "remind_inactive_users"


def add_runs(app, *runs: dict) -> list[int]:
    with app.app_context():
        rows = [JobRun(**{"job": JOB, "trigger": "scheduled", **run}) for run in runs]
        db.session.add_all(rows)
        db.session.commit()
        return [row.id for row in rows]


def failed(error: str = "RuntimeError: mail server on fire", **fields) -> dict:
    return {"status": "failed", "error": error, "attempt": 3, **fields}


def run_of(app, run_id: int) -> JobRun:
    with app.app_context():
        run = db.session.get(JobRun, run_id)
        db.session.expunge(run)
        return run


def audit(app, **where) -> list[AuditEntry]:
    with app.app_context():
        query = db.select(AuditEntry).filter_by(**where).order_by(AuditEntry.id)
        entries = list(db.session.execute(query).scalars())
        db.session.expunge_all()
        return entries


def listed(page: str) -> list[int]:
    return [int(found) for found in re.findall(r'data-run="(\d+)"', page)]


def page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    return response.get_data(as_text=True)


def test_runs_are_filtered_by_job_status_trigger_and_time(app, auth):
    log_in_admin(app, auth)
    old = now_utc() - timedelta(days=3)
    ok, manual, other, ancient = add_runs(
        app,
        {"status": "succeeded"},
        {"status": "enqueued", "trigger": "manual"},
        {"job": OTHER, **failed()},
        {"status": "succeeded", "created_at": old},
    )
    client = auth.client
    assert listed(page(client, "/admin/runs")) == [ancient, other, manual, ok]
    assert listed(page(client, f"/admin/runs?job={JOB}")) == [ancient, manual, ok]
    assert listed(page(client, "/admin/runs?status=succeeded")) == [ancient, ok]
    assert listed(page(client, "/admin/runs?trigger=manual")) == [manual]
    since = (now_utc() - timedelta(days=1)).date().isoformat()
    assert listed(page(client, f"/admin/runs?since={since}&job={JOB}")) == [manual, ok]
    assert listed(page(client, f"/admin/runs?since={since}T00:00%2B02:00")) == [other, manual, ok]
    assert listed(page(client, "/admin/runs?status=running")) == []


@pytest.mark.parametrize(
    ("query", "said"),
    [
        ("status=bogus", "status: &#39;bogus&#39; is not one of"),
        ("trigger=cron", "trigger: &#39;cron&#39; is not one of"),
        ("job=nope", "job: &#39;nope&#39; is not one of"),
        ("since=yesterday", "since: &#39;yesterday&#39; is not an ISO 8601"),
        ("since=0001-01-01T00:00%2B01:00", "is not an ISO 8601"),  # before year 1 in UTC
        ("before=abc", "before: &#39;abc&#39; is not a run id"),
    ],
)
def test_a_bad_filter_is_answered_400_with_what_was_wrong(app, auth, query, said):
    log_in_admin(app, auth)
    response = auth.client.get(f"/admin/runs?{query}")
    assert response.status_code == 400
    assert said in response.get_data(as_text=True)


def test_runs_come_in_pages_newest_first_keyed_by_id(app, auth):
    log_in_admin(app, auth)
    ids = add_runs(app, *({"status": "succeeded"} for _ in range(PAGE_SIZE + 5)))
    first = page(auth.client, "/admin/runs?status=succeeded")
    assert listed(first) == ids[::-1][:PAGE_SIZE]
    older = re.search(r'href="(/admin/runs\?[^"]*before=\d+[^"]*)"', first).group(1)
    assert "status=succeeded" in older
    second = page(auth.client, older.replace("&amp;", "&"))
    assert listed(second) == ids[::-1][PAGE_SIZE:]
    assert "Older runs" not in second


def test_failures_are_grouped_by_exception_class_and_message(app, auth):
    log_in_admin(app, auth)
    fire = add_runs(app, failed(), failed(), {"job": OTHER, **failed()})
    [card] = add_runs(app, failed("ValueError: card 4242: bad expiry"))
    add_runs(app, {"status": "succeeded"}, failed("the worker was lost"))
    html = page(auth.client, "/admin/runs")
    groups = html.split('data-testid="failure-groups"')[1].split("</table>")[0]
    rows = re.findall(r'<tr data-testid="failure-group">(.*?)</tr>', groups, re.S)
    assert len(rows) == 3
    assert "<code>ValueError</code>" in rows[1] and "card 4242: bad expiry" in rows[1]
    assert f"run {card}</a>" in rows[1] and '"num">1<' in rows[1]
    assert "<code>RuntimeError</code>" in rows[2] and "mail server on fire" in rows[2]
    assert f"run {fire[-1]}</a>" in rows[2] and '"num">3<' in rows[2]
    assert "<code>—</code>" in rows[0] and "the worker was lost" in rows[0]
    # The groups follow the other filters: only this job's failures.
    html = page(auth.client, f"/admin/runs?job={OTHER}")
    assert html.count('data-testid="failure-group"') == 1 and f"run {fire[-1]}<" in html


def test_a_runs_page_shows_its_slot_result_attempts_timings_worker_who_and_error(app, auth):
    log_in_admin(app, auth)
    with app.app_context():
        admin_id = db.session.execute(db.select(User.id)).scalar_one()
    enqueued = now_utc() - timedelta(minutes=5)
    slot = enqueued.replace(second=0, microsecond=0)
    [run_id] = add_runs(
        app,
        failed(
            slot_at=slot,
            trigger="manual",
            triggered_by=admin_id,
            enqueued_at=enqueued,
            started_at=enqueued + timedelta(seconds=2.5),
            finished_at=enqueued + timedelta(seconds=4),
            duration_ms=1500,
            worker="box-1:77:Worker-2",
            result={"cards_marked": 7},
            arguments={"user_id": admin_id},
            user_id=admin_id,
            traceback="Traceback (most recent call last):\n  File x\nRuntimeError: on fire",
        ),
    )
    html = page(auth.client, f"/admin/runs/{run_id}")
    assert f"Run #{run_id} {JOB}" in html and "status-failed" in html
    assert slot.strftime("%Y-%m-%d %H:%M UTC") in html
    assert "manual, by root@example.com" in html
    assert "<dd>3 of " in html  # attempts, of the job's most
    assert "1500 ms" in html and "2.5 s" in html  # duration, queue wait
    assert f'datetime="{enqueued.isoformat()}"' in html
    assert "box-1:77:Worker-2" in html
    assert f"&#34;user_id&#34;: {admin_id}" in html or f'"user_id": {admin_id}' in html
    assert f'href="/admin/users/{admin_id}"' in html
    assert "&#34;cards_marked&#34;: 7" in html or '"cards_marked": 7' in html
    assert "mail server on fire" in html and "Traceback (most recent call last)" in html
    assert f"Retry run {run_id}</button>" in html and f"Discard run {run_id}</button>" in html
    assert 'data-testid="audit-trail"' in html and "No admin action yet" in html
    assert auth.client.get("/admin/runs/999999").status_code == 404


def test_retrying_a_failed_run_runs_it_again_and_it_succeeds(app, auth, run_queued_tasks):
    log_in_admin(app, auth)
    [run_id] = add_runs(app, failed(traceback="Traceback ...", duration_ms=10))
    response = auth.post(f"/admin/runs/{run_id}/retry", token_from="/admin/runs")
    assert response.status_code == 303
    assert response.headers["Location"].endswith(f"/admin/runs/{run_id}")
    queued = run_of(app, run_id)
    assert (queued.status, queued.attempt, queued.error, queued.traceback) == (
        "enqueued",
        0,
        None,
        None,
    )
    assert run_queued_tasks() == 1
    done = run_of(app, run_id)
    assert (done.status, done.attempt, done.error) == ("succeeded", 1, None)
    [entry] = audit(app, action="run.retry")
    assert (entry.target_type, entry.target_id, entry.outcome) == ("run", str(run_id), "done")
    assert entry.actor_email == "root@example.com"
    html = page(auth.client, f"/admin/runs/{run_id}")
    assert "is enqueued again" in html and "status-succeeded" in html
    assert "run.retry" in html.split('data-testid="audit-trail"')[1]


def test_retrying_a_succeeded_run_is_refused_with_a_message_and_audited(
    app, auth, run_queued_tasks
):
    log_in_admin(app, auth)
    [run_id] = add_runs(app, {"status": "succeeded", "result": {"n": 1}})
    response = auth.post(
        f"/admin/runs/{run_id}/retry", token_from="/admin/runs", follow_redirects=True
    )
    html = response.get_data(as_text=True)
    assert f"Run #{run_id} is succeeded: only a failed run can be retried." in html
    assert run_of(app, run_id).status == "succeeded"
    assert run_queued_tasks() == 0
    [entry] = audit(app, action="run.retry")
    assert (entry.target_id, entry.outcome) == (str(run_id), "refused")
    assert "only a failed run can be retried" in entry.message
    assert "refused" in html.split('data-testid="audit-trail"')[1]


def test_discarding_a_failed_run_gives_it_a_final_state(app, auth):
    log_in_admin(app, auth)
    failed_at = now_utc() - timedelta(hours=1)
    [run_id, done] = add_runs(app, failed(finished_at=failed_at), {"status": "succeeded"})
    response = auth.post(f"/admin/runs/{run_id}/discard", token_from="/admin/runs")
    assert response.status_code == 303
    run = run_of(app, run_id)
    assert run.status == "discarded" and run.finished_at == failed_at  # keeps when it failed
    assert run.error == "RuntimeError: mail server on fire"
    # Final: neither retried nor discarded again; a succeeded run is not discarded either.
    auth.post(f"/admin/runs/{run_id}/retry", token_from="/admin/runs")
    auth.post(f"/admin/runs/{run_id}/discard", token_from="/admin/runs")
    auth.post(f"/admin/runs/{done}/discard", token_from="/admin/runs")
    assert (run_of(app, run_id).status, run_of(app, done).status) == ("discarded", "succeeded")
    outcomes = [(e.action, e.target_id, e.outcome) for e in audit(app, target_type="run")]
    assert outcomes == [
        ("run.discard", str(run_id), "done"),
        ("run.retry", str(run_id), "refused"),
        ("run.discard", str(run_id), "refused"),
        ("run.discard", str(done), "refused"),
    ]
    html = page(auth.client, f"/admin/runs/{run_id}")
    assert "status-discarded" in html and "Retry run" not in html and "Discard run" not in html


def test_revoking_a_queued_run_leaves_its_task_nothing_to_run(app, auth, run_queued_tasks):
    log_in_admin(app, auth)
    auth.post(f"/admin/jobs/{JOB}/run", {"confirm": "yes"}, token_from="/admin/jobs")
    with app.app_context():
        run_id = db.session.execute(db.select(JobRun.id)).scalar_one()
    html = page(auth.client, "/admin/runs")
    assert f"Revoke run {run_id}</button>" in html
    response = auth.post(f"/admin/runs/{run_id}/discard", token_from="/admin/runs")
    assert response.status_code == 303
    assert run_of(app, run_id).status == "discarded"
    assert run_queued_tasks() == 1  # the real task ran, and found nothing to claim
    run = run_of(app, run_id)
    assert (run.status, run.attempt, run.started_at, run.worker) == ("discarded", 0, None, None)
    assert run.finished_at is not None
    [entry] = audit(app, action="run.discard")
    assert entry.outcome == "done" and "revoked" in entry.message


def test_retrying_every_failed_run_of_a_job_needs_its_name_typed(app, auth, run_queued_tasks):
    log_in_admin(app, auth)
    first, second, other, done = add_runs(
        app, failed(), failed(), {"job": OTHER, **failed()}, {"status": "succeeded"}
    )
    html = page(auth.client, "/admin/runs")
    assert f"Retry all 2 failed runs of {JOB}</button>" in html
    url = f"/admin/jobs/{JOB}/retry-failed"
    for typed in ({}, {"confirm": OTHER}):
        response = auth.post(url, typed, token_from="/admin/runs")
        assert response.status_code == 303
        assert response.headers["Location"].endswith(f"/admin/runs?job={JOB}")
    assert run_queued_tasks() == 0
    assert run_of(app, first).status == run_of(app, second).status == "failed"

    response = auth.post(url, {"confirm": JOB}, token_from="/admin/runs", follow_redirects=True)
    assert f"2 failed runs of {JOB} enqueued again." in response.get_data(as_text=True)
    assert run_queued_tasks() == 2
    statuses = [run_of(app, run_id).status for run_id in (first, second, other, done)]
    assert statuses == ["succeeded", "succeeded", "failed", "succeeded"]
    entries = audit(app, action="job.retry_failed")
    assert [(e.target_id, e.outcome, e.arguments) for e in entries] == [
        (JOB, "refused", {"confirm": ""}),
        (JOB, "refused", {"confirm": OTHER}),
        (JOB, "done", {"confirm": JOB}),
    ]
    assert entries[-1].message == f"2 failed runs of {JOB} enqueued again."
    # Nothing left to retry: refused, and says so.
    auth.post(url, {"confirm": JOB}, token_from="/admin/runs")
    assert "no failed runs" in audit(app, action="job.retry_failed")[-1].message


def test_actions_on_unknown_runs_and_jobs_are_404_and_audited(app, auth):
    log_in_admin(app, auth)
    for url in ("/admin/runs/999999/retry", "/admin/runs/999999/discard"):
        assert auth.post(url, token_from="/admin/runs").status_code == 404
    confirm = {"confirm": "nope"}
    assert auth.post("/admin/jobs/nope/retry-failed", confirm, token_from="/").status_code == 404
    entries = [(e.action, e.target_id, e.outcome, e.message) for e in audit(app)]
    assert entries == [
        ("run.retry", "999999", "refused", "No job run #999999."),
        ("run.discard", "999999", "refused", "No job run #999999."),
        ("job.retry_failed", "nope", "refused", "No job is called 'nope'."),
    ]
