"""Public HTTP API: accepts tasks, reports their state, shows session history."""
