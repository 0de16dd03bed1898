-- Tasks and steps: owned jointly by gateway (accepts) and orchestrator (drives). Idempotent.
CREATE TABLE IF NOT EXISTS tasks (
    id           uuid PRIMARY KEY,
    agent        text NOT NULL,
    input        text NOT NULL,
    session_id   text NOT NULL,
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    result       text,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    published_at timestamptz,
    started_at   timestamptz,
    completed_at timestamptz
);
CREATE INDEX IF NOT EXISTS tasks_unpublished ON tasks (created_at) WHERE published_at IS NULL;

CREATE TABLE IF NOT EXISTS steps (
    task_id      uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    step_no      integer NOT NULL,
    kind         text NOT NULL,
    status       text NOT NULL DEFAULT 'queued'
                 CHECK (status IN ('queued', 'running', 'completed', 'failed')),
    output       text,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (task_id, step_no)
);
