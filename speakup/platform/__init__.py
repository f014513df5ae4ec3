"""What the layers above stand on: the tables (models), SQLite settings (sqlite), the migrations loader
(migrations), logs (logs, gunicorn_logging), security headers (headers), the Flask extensions and rate limits
(extensions, limit_charges), reading typed input (inputs), where each sent form went (form_posts), and checking
uploads (attachments, which sends pictures to imaging and PDFs to pdfs to be cleaned). May import crypto only."""
