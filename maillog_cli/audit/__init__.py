"""audit: see the developer map in docs/development.md."""
