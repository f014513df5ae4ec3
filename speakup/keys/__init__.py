"""Who holds which key. account_keys (sealed under a key from the password), sessions, grants (case keys wrapped
for guardians, sharing them), exclusions, recovery (the organisation's keys and their file), roster_log (the signed,
hash-chained log of who is a guardian), anchor (its head, outside the database), roster (the verified roster) and
approvals (signing into the log). Wraps a case key only for a verified roster member."""
