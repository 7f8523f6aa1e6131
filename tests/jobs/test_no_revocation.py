"""Work is cancelled through its row (lifecycle.discard), so Huey's revocation is off: a task's
run reads and deletes no revocation key in the queue's storage, and a call to Huey's revoke
fails loudly instead of being silently ignored."""

import pytest

from saas.extensions import huey

RAN = []


@huey.task()
def remember(label) -> None:
    RAN.append(label)


def test_running_a_task_touches_no_revocation_key(app, monkeypatch):
    storage_calls = []
    for method in ("peek_data", "peek_many", "pop_data", "delete_data", "put_data"):
        original = getattr(huey.storage, method)

        def spy(*args, _method=method, _original=original, **kwargs):
            storage_calls.append((_method, args))
            return _original(*args, **kwargs)

        monkeypatch.setattr(huey.storage, method, spy)
    with app.app_context():
        remember("ran")
        task = huey.dequeue()
        huey.execute(task)
    assert RAN[-1] == "ran"
    assert storage_calls == []  # and no result stored: the task returned None


@pytest.mark.parametrize(
    "revoke",
    [
        lambda: huey.revoke_by_id("some-task-id"),
        lambda: huey.revoke_all(remember),
        remember.revoke,
        lambda: huey.restore_by_id("some-task-id"),
    ],
)
def test_huey_revocation_is_refused_with_the_way_to_cancel_work(app, revoke):
    with app.app_context(), pytest.raises(NotImplementedError, match="lifecycle.discard"):
        revoke()
