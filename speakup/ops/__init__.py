"""What every layer above records and tells: the hash-chained audit trail (audit) and email (notify)."""
