"""Cryptographic primitives over the `cryptography` package, and nothing else of Speak Up: no Flask, no database.

sealing (AES-256-GCM records, keyed hashes; padding, the fixed buckets a text is sealed in), kem (HPKE ML-KEM-768 +
X25519 wrapping of case keys), signing (Ed25519 + ML-DSA-65, fingerprints, safety codes), password_keys (Argon2id),
totp, access_codes, the password rules (passwords), and the mark for their messages (catalogue). docs/protocol.md
describes every format and associated-data string."""
