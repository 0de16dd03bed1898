-- Memory: sessions' messages. (task_id, step_id, seq) makes a redelivered step store nothing twice.
CREATE TABLE IF NOT EXISTS messages (
    id         bigserial PRIMARY KEY,
    session_id text NOT NULL,
    role       text NOT NULL CHECK (role IN ('system', 'user', 'assistant', 'tool')),
    content    text NOT NULL,
    task_id    text,
    step_id    text,
    seq        integer NOT NULL DEFAULT 0,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (task_id, step_id, seq)
);
CREATE INDEX IF NOT EXISTS messages_session ON messages (session_id, id);
CREATE INDEX IF NOT EXISTS messages_search ON messages USING gin (to_tsvector('english', content));
