"""What the layers above stand on: the tables (models), SQLite settings, the migrations loader, logs, security
headers, rate limits (extensions), reading typed input (inputs), and checking and cleaning uploads (imaging,
pdfs). May import crypto only."""
