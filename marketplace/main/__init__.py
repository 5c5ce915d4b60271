"""The home page, the language switch, uploaded media files and the health check."""
