"""Worker against real Redis, with real memory (on Postgres) and model servers over HTTP."""

import uuid

import httpx
import pytest
import redis
from stackyard.memory.app import Settings as MemorySettings
from stackyard.memory.app import build_app as memory_app
from stackyard.model.app import Settings as ModelSettings
from stackyard.model.app import build_app as model_app
from stackyard.worker.app import Settings, build_app

from tests.integration.support import ServedApp, eventually

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model() -> ServedApp:
    with ServedApp(model_app(ModelSettings(stage="test", first_token_ms=1, tokens_per_second=0))) as served:
        yield served


@pytest.fixture(scope="module")
def memory(postgres_url: str) -> ServedApp:
    with ServedApp(memory_app(MemorySettings(stage="test", database_url=postgres_url))) as served:
        yield served


def step(task: str, text: str, session: str) -> dict[str, str]:
    return {"task_id": task, "step_no": "0", "kind": "chat", "input": text, "session_id": session}


def test_chat_steps_use_history_and_record_both_sides_once(
        model: ServedApp, memory: ServedApp, redis_url: str, streams: dict[str, str]) -> None:
    settings = Settings(stage="test", redis_url=redis_url, memory_url=memory.url, model_url=model.url,
                        claim_idle_ms=500, **streams)
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    with ServedApp(build_app(settings)) as worker:
        assert httpx.get(worker.url + "/readyz").json()["checks"] == {"redis": "ok", "memory": "ok", "model": "ok"}
        r.xadd(streams["steps_stream"], step("t-1", "hello", "worker-session"))
        eventually(lambda: len(r.xrange(streams["results_stream"])) == 1)
        r.xadd(streams["steps_stream"], step("t-2", "and again", "worker-session"))
        # A redelivery of the first step (e.g. a crash before XACK) must not store its messages twice.
        r.xadd(streams["steps_stream"], step("t-1", "hello", "worker-session"))
        results = eventually(lambda: (lambda rs: rs if len(rs) == 3 else None)(r.xrange(streams["results_stream"])))
    outputs = {(f["task_id"], f["output"]) for _, f in results}
    assert outputs == {("t-1", 'Turn 1: you said "hello".'), ("t-2", 'Turn 2: you said "and again".')}
    history = httpx.get(f"{memory.url}/v1/sessions/worker-session/messages").json()["messages"]
    assert [(m["role"], m["content"]) for m in history] == [
        ("user", "hello"), ("assistant", 'Turn 1: you said "hello".'),
        ("user", "and again"), ("assistant", 'Turn 2: you said "and again".')]


def test_a_step_that_keeps_failing_is_dead_lettered_and_reported_failed(
        memory: ServedApp, redis_url: str, streams: dict[str, str]) -> None:
    # The model URL points nowhere: every attempt raises, the entry stays pending and is retried
    # until max_deliveries, then it lands in the dead-letter stream and a failed result is sent.
    settings = Settings(stage="test", redis_url=redis_url, memory_url=memory.url, model_url="http://127.0.0.1:9",
                        claim_idle_ms=200, max_deliveries=3, request_timeout_seconds=1, **streams)
    r = redis.Redis.from_url(redis_url, decode_responses=True)
    with ServedApp(build_app(settings)):
        r.xadd(streams["steps_stream"], step("t-poison", "x", "poison-session"))
        results = eventually(lambda: r.xrange(streams["results_stream"]), timeout=20)
    assert results[0][1]["status"] == "failed" and "deliveries" in results[0][1]["error"]
    dead = r.xrange(streams["dead_letter_stream"])
    assert len(dead) == 1 and dead[0][1]["task_id"] == "t-poison"
    assert r.xpending(streams["steps_stream"], "workers")["pending"] == 0


def test_a_chat_turn_sends_the_window_and_a_redelivery_sees_the_window_it_first_saw(
        model: ServedApp, memory: ServedApp, redis_url: str, streams: dict[str, str]) -> None:
    # Five earlier turns; a window of 4 messages is two of them, so the model (which names the
    # turn by the user messages it is sent) answers "Turn 3" — the whole session would be "Turn 6".
    session = f"window-{uuid.uuid4().hex[:8]}"
    for n in range(5):
        httpx.post(f"{memory.url}/v1/sessions/{session}/messages", json={
            "task_id": f"{session}-seed-{n}", "step_id": f"{session}-seed-{n}:0", "messages": [
                {"role": "user", "content": f"seed {n}"}, {"role": "assistant", "content": f"reply {n}"}]})
    settings = Settings(stage="test", redis_url=redis_url, memory_url=memory.url, model_url=model.url,
                        claim_idle_ms=500, history_window=4, **streams)
    r = redis.Redis.from_url(redis_url, decode_responses=True)

    def results(count: int) -> list[tuple[str, str]]:
        found = eventually(lambda: (lambda rs: rs if len(rs) == count else None)(r.xrange(streams["results_stream"])))
        return [(f["task_id"], f["output"]) for _, f in found]

    first, second = f"{session}-1", f"{session}-2"
    with ServedApp(build_app(settings)):
        r.xadd(streams["steps_stream"], step(first, "hello", session))
        results(1)
        r.xadd(streams["steps_stream"], step(second, "and again", session))
        results(2)
        # Redelivered after a later turn: the newest 4 now hold its own write and that turn; it
        # must read the 4 before its own write, as its first delivery did, and answer the same.
        r.xadd(streams["steps_stream"], step(first, "hello", session))
        outputs = results(3)
    assert outputs == [(first, 'Turn 3: you said "hello".'), (second, 'Turn 3: you said "and again".'),
                       (first, 'Turn 3: you said "hello".')]
    history = httpx.get(f"{memory.url}/v1/sessions/{session}/messages").json()["messages"]
    assert [m["content"] for m in history[-4:]] == [
        "hello", 'Turn 3: you said "hello".', "and again", 'Turn 3: you said "and again".']
    assert len(history) == 14
