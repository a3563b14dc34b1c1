"""Services shared by the CLI and the dashboard: model folders, jobs, caches, tables."""
