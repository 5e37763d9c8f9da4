"""Build tooling for the Windows installer and the frozen app (not shipped inside the app)."""
