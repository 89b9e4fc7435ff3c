"""pytest plugin of flynn-async (placeholder until its fixtures land)."""
