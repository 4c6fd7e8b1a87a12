"""resend: see the developer map in docs/development.md."""
