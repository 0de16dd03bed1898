"""Simulated OpenAI-compatible model server."""
