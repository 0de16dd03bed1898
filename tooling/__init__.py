"""stackyard's toolkit: plain functions over plain data, driven by the invoke tasks in tooling/tasks."""
