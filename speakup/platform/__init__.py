"""What the layers above stand on: the tables (models), SQLite settings, the migrations loader, logs, security
headers, rate limits (extensions), reading typed input (inputs), and checking uploads (attachments, which sends
pictures to imaging and PDFs to pdfs to be cleaned). May import crypto only."""
