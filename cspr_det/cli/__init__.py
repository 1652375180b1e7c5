"""Command-line support for the tools: error reporting and the study runner."""
