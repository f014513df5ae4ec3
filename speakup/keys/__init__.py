"""Who holds which key. account_keys (sealed under a key from the password), sessions, grants (case keys wrapped
for guardians, sharing them), exclusions, recovery (the organisation's keys and their file), roster (verifying
endorsements to the pinned root) and approvals (signing them). Wraps a case key only for a verified roster member."""
