-- Tasks and steps: owned jointly by gateway (accepts) and orchestrator (drives). Idempotent,
-- including the upgrades below for databases created by an earlier version.
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
ALTER TABLE tasks ADD COLUMN IF NOT EXISTS idempotency_key text;
CREATE UNIQUE INDEX IF NOT EXISTS tasks_idempotency_key ON tasks (idempotency_key);
CREATE INDEX IF NOT EXISTS tasks_unpublished ON tasks (created_at) WHERE published_at IS NULL;
CREATE INDEX IF NOT EXISTS tasks_unfinished ON tasks (created_at) WHERE status IN ('queued', 'running');

CREATE TABLE IF NOT EXISTS steps (
    task_id      uuid NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
    step_no      integer NOT NULL,
    kind         text NOT NULL,
    status       text NOT NULL DEFAULT 'queued',
    output       text,
    error        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz,
    PRIMARY KEY (task_id, step_no)
);
ALTER TABLE steps ADD COLUMN IF NOT EXISTS input text;
ALTER TABLE steps ADD COLUMN IF NOT EXISTS tool text;
ALTER TABLE steps ADD COLUMN IF NOT EXISTS published_at timestamptz;
CREATE INDEX IF NOT EXISTS steps_queued ON steps (published_at) WHERE status = 'queued';
ALTER TABLE steps DROP CONSTRAINT IF EXISTS steps_status_check;
-- 'waiting': a synthesis step not yet due (its inputs are still running).
ALTER TABLE steps ADD CONSTRAINT steps_status_check
    CHECK (status IN ('waiting', 'queued', 'running', 'completed', 'failed'));
