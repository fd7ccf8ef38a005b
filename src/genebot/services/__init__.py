"""Use cases shared by the API, the CLI and notifications (one implementation each)."""
