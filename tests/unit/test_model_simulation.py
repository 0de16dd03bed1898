"""The simulated model: deterministic, history-aware, OpenAI-shaped."""

import json

from fastapi.testclient import TestClient
from stackyard.model import simulate
from stackyard.model.app import Settings, build_app


def test_answer_is_deterministic_and_counts_turns() -> None:
    history = [simulate.Message("user", "hello"), simulate.Message("assistant", "x"),
               simulate.Message("user", "  how are you ")]
    assert simulate.answer(history) == 'Turn 2: you said "how are you".'
    assert simulate.answer(history) == simulate.answer(list(history))
    assert simulate.answer([]) == "I have nothing to answer yet."


def test_tokens_concatenate_back_to_the_text() -> None:
    text = 'Turn 1: you said "a  b".'
    assert "".join(simulate.tokens(text)) == text


def client() -> TestClient:
    return TestClient(build_app(Settings(first_token_ms=0, tokens_per_second=0)))


def test_chat_completion_shape() -> None:
    response = client().post("/v1/chat/completions", json={
        "model": "stackyard-sim-1", "messages": [{"role": "user", "content": "ping"}]})
    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion"
    assert body["choices"][0]["message"] == {"role": "assistant", "content": 'Turn 1: you said "ping".'}
    assert body["usage"]["completion_tokens"] == len(simulate.tokens('Turn 1: you said "ping".'))


def test_streaming_yields_the_same_text_as_chunks() -> None:
    with client().stream("POST", "/v1/chat/completions", json={
            "model": "stackyard-sim-1", "stream": True,
            "messages": [{"role": "user", "content": "stream me"}]}) as response:
        lines = [line for line in response.iter_lines() if line.startswith("data: ")]
    assert lines[-1] == "data: [DONE]"
    text = "".join(json.loads(line[6:])["choices"][0]["delta"].get("content", "") for line in lines[:-1])
    assert text == 'Turn 1: you said "stream me".'


def test_models_and_errors_are_json() -> None:
    c = client()
    assert c.get("/v1/models").json()["data"][0]["id"] == "stackyard-sim-1"
    unknown = c.post("/v1/chat/completions", json={"model": "gpt-9", "messages": [{"role": "user", "content": "x"}]})
    assert unknown.status_code == 404 and "not found" in unknown.json()["error"]
    malformed = c.post("/v1/chat/completions", content=b"{nope", headers={"content-type": "application/json"})
    assert malformed.status_code == 400 and "malformed JSON" in malformed.json()["error"]
    empty = c.post("/v1/chat/completions", json={"model": "stackyard-sim-1", "messages": []})
    assert empty.status_code == 422 and "messages" in empty.json()["error"]
    assert c.get("/healthz").json() == {"status": "ok"}
    assert c.get("/readyz").status_code == 200
    assert "http_requests_total" in c.get("/metrics").text
