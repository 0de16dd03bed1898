"""Agent runtime: executes one step at a time, stateless."""
