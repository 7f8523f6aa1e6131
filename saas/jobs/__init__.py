"""The job layer: the app-bound Huey, enqueue-after-commit and worker helpers."""
