"""The rules of a case, shared by the HTML pages, the JSON API and the commands.

raising (with submissions: one concern per form), recording (concerns a guardian records), handling (messages,
status moves, assignment, notes, feedback), reading (a case opened for a guardian or the reporter), references,
triage (the queue), workflow (statuses and their moves), deadlines (due dates, escalating and extending), referrals,
checkins, quarters, categories, characteristics, files, sharing, staff (accounts and sign-in), enrolment, retention.

Transactions: the function a view or command calls to do one thing owns the transaction and commits it on
success; nothing it calls commits (keys.grants, ops.audit.record and the rest only add to the session). A page that
only shows something writes one record of who read what, through ops.audit.record_reading. docs/architecture.md
has the whole rule and its two exceptions (keys.sessions, the roster's alarm record)."""
