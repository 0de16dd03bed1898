"""Task lifecycle: turns tasks into steps, collects step results, writes final results."""
