"""Every setting with a safe default. Override any of them with SPEAKUP_<KEY> in the environment.

Shipped inside the package, so an installed wheel has them; config/default.py re-exports them for the repository."""

# A shipped text is marked for the catalogues (`make translations` extracts it): the page says it in the reader's
# language; a trust's own text replacing it is shown as the trust wrote it. Not under the name N_: every capitalised
# name here is a setting.
from speakup.crypto.catalogue import N_ as shipped_text

# "production" refuses to start without real secrets; "development" generates and keeps them in
# instance/; "testing" is for the test suite.
ENVIRONMENT = "production"

# Secrets: no literal defaults. Production refuses to start while either is missing.
SECRET_KEY = None
# Keys SECRET_KEY replaced, still accepted for what they signed (sessions, this browser's sign-in mark) while it
# lives: a JSON list, oldest first. `speakup rotate-secret-key` prints the lines to set (docs/deploy.md, section 6).
SECRET_KEY_FALLBACKS: list[str] = []
TOKEN_PEPPER = None  # keys the access-code lookup ids and the rate-limit client pseudonyms
# Peppers TOKEN_PEPPER replaced, newest first (a JSON list): what was made under them (access codes, tokens, links,
# older audit rows) is still found. `speakup rotate-pepper` writes the lines to set (docs/deploy.md).
TOKEN_PEPPER_FALLBACKS: list[str] = []

# Database: None means a SQLite file under the instance folder.
SQLALCHEMY_DATABASE_URI = None
# pool_pre_ping tests each pooled connection before use, so after a database restart the same
# processes carry on without being restarted themselves.
SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
# Seconds. A database that is stopped or unreachable answers 503 within this time rather than hanging:
# it bounds connecting (libpq connect_timeout, SQLite's busy wait), waiting for a free pooled connection
# (pool_timeout) and, on PostgreSQL, unacknowledged network writes (tcp_user_timeout), so a connection to
# a vanished host is dropped rather than waited on for the kernel's quarter of an hour.
DATABASE_CONNECT_TIMEOUT = 5
# Seconds, PostgreSQL only: the server cancels any one statement (lock waits included) that runs longer,
# so a stuck query answers 503 instead of holding a worker. 0 turns it off, as a pooler such as PgBouncer
# in transaction mode needs (it refuses the startup option); set it on the database role there instead.
DATABASE_STATEMENT_TIMEOUT = 30
# SQLite only: wal (readers never wait for the writer; a commit is one synced append) or delete, truncate,
# persist (a rollback journal). Every commit is synced either way. See speakup/platform/sqlite.py.
SQLITE_JOURNAL_MODE = "wal"

# Staff sign-in
REQUIRE_MFA = True
ARGON2_MEMORY_KIB = 65536
ARGON2_ITERATIONS = 3
ARGON2_LANES = 1
# Argon2id derivations running at once in one worker process. Each holds ARGON2_MEMORY_KIB while it runs, and
# the derivation releases Python's lock, so without a bound every thread of a worker could hold one: a worker's
# peak memory is about its own (~87 MiB at rest) plus this many times ARGON2_MEMORY_KIB. Other workers are not
# bound by it. Two, not one: a new connection goes to whichever worker accepts it first, so two sign-ins at once
# share a worker about half the time, and with one derivation a worker the second waits for the first. Two sign-ins
# at once on two cores gave 1.46-1.59x the throughput of one with 1 here, 1.69-2.00x with 2 (median 1.75x; bare
# Argon2id derivations gave 1.89-2.13x, so `make bench` judges sign-ins against that floor, bench/argon2_floor.py),
# for one more ARGON2_MEMORY_KIB at a worker's peak: 221 MiB at the defaults (BENCHMARKS.md).
ARGON2_PARALLEL_DERIVATIONS = 2
STAFF_IDLE_MINUTES = 30
# An enrolment link (a new account, or a reset) works once, for this many hours.
ENROLMENT_HOURS = 72
# The fingerprint `flask speakup init` prints as `roster-root:`: the organisation signing key every guardian's
# approval must verify up to. Pinned here, outside the database, so nobody who can write to the database can
# replace it. Production refuses to serve without it; development and tests trust the stored key when unset.
ROSTER_ROOT = None
# A new guardian, or one enabled again, joins the roster with this many approvals from different approved guardians
# once at least that many others are approved (one while the roster is smaller; the organisation key's is always
# enough), so one guardian and one administrator together cannot add a reader.
ROSTER_APPROVALS_REQUIRED = 2
# Where this instance anchors the roster log's head, outside the database, to see a log put back to an older copy.
# Empty: roster-anchor.json in the instance folder. Keep it on local disk the service can write, out of backups of
# the database (speakup/keys/anchor.py).
ROSTER_ANCHOR_FILE = ""
STAFF_ABSOLUTE_HOURS = 8

# Reporter follow-up sessions on the HTML pages
REPORTER_IDLE_MINUTES = 15
# With JavaScript, a page warns this long before its session ends (idle, or a staff session's absolute limit) in a
# dialog offering "Stay signed in" (WCAG 2.2.1, Timing Adjustable), then goes to the signed-out page by itself.
TIMEOUT_WARNING_MINUTES = 2
# After raising a concern on the form, its confirmation page shows the access code for this many minutes (or until
# "I have saved my access code"), so a reload or Back shows the same code and the next person at a shared computer
# does not. A form sent again, or an API request repeated with the same Idempotency-Key, raises nothing new for this
# many hours (the API's answer, access code included, is kept sealed under a key from the client's own key till then).
CONFIRMATION_MINUTES = 30
SUBMISSION_HOURS = 24

# Deadlines for new concerns (speakup/domain/deadlines/, which names each rule's source): "england" and "wales"
# count ACK_DAYS and FEEDBACK_DAYS calendar days (neither sets days nationally: set them to the trust's policy);
# "eu" is the EU Whistleblowing Directive (acknowledge in 7 days, feedback within 3 months of that); "scotland" is
# the National Whistleblowing Standards in working days without Scotland's bank holidays (SCOTLAND_STAGE 2:
# acknowledge in 3, respond in 20; stage 1: respond in 5).
DEADLINE_RULES = "england"
SCOTLAND_STAGE = 2
ACK_DAYS = 7
FEEDBACK_DAYS = 90

# Input limits
MAX_CONCERN_CHARS = 20_000
MAX_MESSAGE_CHARS = 20_000
MAX_SHORT_FIELD_CHARS = 200
MAX_CONTENT_LENGTH = 1024 * 1024  # 1 MiB request bodies; larger get 413

# Rate limits, in Flask-Limiter's notation. Several staff often share one hospital address, so
# submissions are generous; wrong access codes are not.
RATELIMIT_STORAGE_URI = "memory://"
# Seconds: how long connecting to a Redis rate-limit store, or one command, may take before it counts
# as down (with one retry, a request waits at most about twice this). Redis down: sign-in and
# access-code checks answer 503 "try again shortly" (they fail closed: a limit that cannot be counted
# is not skipped); raising a concern still works (it fails open: turning away someone speaking up is
# worse than a brief flood). See speakup/platform/extensions.py.
RATELIMIT_STORAGE_TIMEOUT = 2
RATELIMIT_ENABLED = True
RATELIMIT_HEADERS_ENABLED = True
SUBMIT_RATE_LIMIT = "20 per hour"
ACCESS_CODE_RATE_LIMIT = "10 per minute"
SIGN_IN_RATE_LIMIT = "10 per minute"

# Cookies
SESSION_COOKIE_NAME = "speakup_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = True
REMEMBER_COOKIE_DURATION = 0
WTF_CSRF_TIME_LIMIT = None  # the form lives as long as the session; a slow writer must not lose text
# Forms are checked by speakup/web/once.py (the CSRF token and a one-time nonce), not by Flask-WTF's own hook.
WTF_CSRF_CHECK_DEFAULT = False
# A form's one-time nonce passes for this long after its page was shown (a slow writer must not lose text); its
# record is kept as long, so it is never answered twice. The words of a form that came back with errors are kept
# for its browser for KEPT_FORM_MINUTES, or until it goes to another page.
FORM_HOURS = 24
KEPT_FORM_MINUTES = 10
# Over HTTPS Flask-WTF would also demand a Referer naming this host, but every page sends "Referrer-Policy:
# no-referrer" (nothing leaks to another site), so browsers send none and every form would fail behind a TLS proxy.
# Forms stay protected by their CSRF token and the SameSite=Lax session cookie.
WTF_CSRF_SSL_STRICT = False

# The trust's name, in every page's header, footer and title. A placeholder: production logs a warning at start-up
# while it is still this value (speakup/settings.py), so set SPEAKUP_ORGANISATION_NAME.
ORGANISATION_NAME = "Your NHS trust"

# The languages every page offers (a chooser at its top), each once its catalogue is installed, and the one a visit
# starts in: a Welsh body puts "cy" first (the Welsh Language Standards). A JSON list, or codes separated by commas.
# The choice lasts the browser's visit only (its session cookie), and is never logged or stored (issue 28).
# Unset, the default is Welsh under DEADLINE_RULES=wales (the Speaking up Safely framework), English elsewhere.
LANGUAGES = ["en", "cy"]
DEFAULT_LANGUAGE = None
BABEL_TRANSLATION_DIRECTORIES = "translations"  # under speakup/; several separated by ";" (a test's pseudo-locale)

# "Exit this page", on every page a person raising or following up a concern sees: the neutral page it leaves for
# at once (the button, or Shift pressed three times), replacing this site in the tab's History. An https:// address
# that looks ordinary on a ward computer's screen.
EXIT_PAGE_URL = "https://www.bbc.co.uk/weather"

# Email to guardians: only ever "something is waiting", never case content. Nothing is sent while
# MAIL_SERVER is unset.
MAIL_SERVER = None
MAIL_PORT = 587
MAIL_USE_STARTTLS = True
MAIL_USE_SSL = False
MAIL_USERNAME = None
MAIL_PASSWORD = None
MAIL_FROM = "speak-up@localhost"
MAIL_TIMEOUT = 10
# The address guardians are sent to in emails, e.g. https://speakup.example.nhs.uk
PUBLIC_BASE_URL = "http://127.0.0.1:5000"
# Deadline reminders go out this many days before a case falls due.
REMINDER_DAYS = 2
# Guardian emails wait in the database (the mail outbox) and `flask speakup mail deliver` sends them, each after a
# random delay in this range of seconds ("60-600", or one number), so an email leaving cannot be matched by its time
# to a reporter's visit. 0 sends at the worker's next pass.
MAIL_DELAY_SECONDS = "60-600"

# Retention: closed cases are crypto-shredded (`flask speakup purge`) this many days after they closed.
# Six years, a common NHS records retention period for such cases (check your trust's records policy).
RETENTION_DAYS = 2190

# National return and statistics: counts from 1 to SUPPRESS_BELOW - 1 are shown as "<5" (small-number suppression).
SUPPRESS_BELOW = 5

# The voluntary characteristics of those speaking up (domain/characteristics.py) are shown only for quarters that
# have ended, and only for a question at least this many people answered that quarter ("prefer not to say" is not
# an answer). Counting only ended quarters stops a guardian reloading the board around one concern to read that
# person's answers; the floor stops a quiet quarter's few answers describing the few who gave them.
CHARACTERISTICS_MIN_ANSWERS = 10

# Attachments from reporters: the largest file accepted (bytes), and the types accepted, judged by
# the file's contents, never its name. Choose among image/jpeg, image/png, application/pdf, text/plain.
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
ATTACHMENT_TYPES = ("image/jpeg", "image/png", "application/pdf", "text/plain")
# A picture is decoded in memory to be cleaned. Refused before decoding: more than this many MiB of pixels
# (width x height x the channels it is drawn with; a 12-megapixel phone photo is 36 MiB), or more decoded bytes per
# byte of file than ATTACHMENT_MAX_IMAGE_RATIO (a 208 KB PNG that says it is 7000 x 7000 with transparency is 940).
ATTACHMENT_MAX_DECODED_MIB = 64
ATTACHMENT_MAX_IMAGE_RATIO = 500
# Pictures decoded at once in one worker process (others wait): with the bound above, a worker's peak is about its
# own memory plus this many times two decoded pictures (the decoded one and its clean copy).
ATTACHMENT_PARALLEL_DECODES = 1

# How many proxies (load balancers) in front set X-Forwarded-For; 0 when clients connect directly.
PROXY_FIX_X_FOR = 0

# Application log level (JSON lines on standard error). None means INFO, or WARNING under testing.
LOG_LEVEL = None

# "Other ways to speak up" (/other-ways), linked from the home page and the confirmation. Every name, number and
# address on it comes from here, so a trust sets its own (as JSON from the environment, for example
# SPEAKUP_SPEAK_UP_CONTACTS='[{"name": "Gita Guardian", "role": "Freedom to Speak Up guardian",
# "contact": "Extension 4321, or speakup@example.nhs.uk"}]').
SPEAK_UP_CONTACTS: list = []  # {"name", "role", "contact"}: the guardians and champions people can speak to
LINE_MANAGEMENT = shipped_text(
    "You can also raise a concern with your line manager, a more senior manager, or the executive or "
    "non-executive director responsible for speaking up."
)
# Bodies outside the trust: {"name", "about", "web", "contact"}; only "name" is needed, "web" is an https:// address
# (shown as a link), "contact" any words the trust adds (a phone number, say: none is shipped, as one can go stale).
# A trust's own list replaces this one whole, e.g. SPEAKUP_EXTERNAL_ROUTES='[{"name": "Care Quality Commission",
# "web": "https://www.cqc.org.uk"}]'. Speaking up to a prescribed person (the regulators here) is protected in law.
EXTERNAL_ROUTES: list = [
    {
        "name": shipped_text("Care Quality Commission (CQC)"),
        "about": shipped_text("Checks the quality and safety of health and care services."),
        "web": "https://www.cqc.org.uk",
    },
    {
        "name": shipped_text("NHS England"),
        "about": shipped_text(
            "For concerns about GP, dental, pharmacy or eye care services, or about an NHS trust itself."
        ),
        "web": "https://www.england.nhs.uk",
    },
    {
        "name": shipped_text("Nursing and Midwifery Council (NMC)"),
        "about": shipped_text("For concerns about a nurse, midwife or nursing associate."),
        "web": "https://www.nmc.org.uk",
    },
    {
        "name": shipped_text("General Medical Council (GMC)"),
        "about": shipped_text("For concerns about a doctor or physician associate."),
        "web": "https://www.gmc-uk.org",
    },
    {
        "name": shipped_text("Health and Care Professions Council (HCPC)"),
        "about": shipped_text("For concerns about a health or care professional it registers, such as a paramedic."),
        "web": "https://www.hcpc-uk.org",
    },
    {
        "name": shipped_text("Protect"),
        "about": shipped_text("A charity that gives free, confidential advice about speaking up at work."),
        "web": "https://protect-advice.org.uk",
    },
]
EMERGENCY_ADVICE = shipped_text("If someone is in danger now, call 999.")

# The accessibility statement (/accessibility) and the privacy notice (/privacy), linked from every page's footer.
# The shipped words are true of this service as it runs out of the box. A trust replaces either with its own: the path
# of a UTF-8 plain-text file (absolute, or inside the instance folder), read at start-up, each paragraph separated by
# a blank line. It is shown as text, never as HTML or Markdown, so nothing in it can change or script the page.
ACCESSIBILITY_STATEMENT_FILE = ""
PRIVACY_NOTICE_FILE = ""

# Check-ins after closing: this many days after a case closed, the reporter's follow-up page and the API ask
# "Since your case was closed, have you suffered detriment for speaking up?". A yes flags the case for its guardians
# and is counted in the national return and the board report.
CHECK_IN_DAYS: list = [90, 365]

# Backups `speakup backups run` makes (the speakup-backup timer, nightly): a folder only the service's user can read
# (None: the service makes none of its own), how many days of copies to keep, and how old the newest may be before
# /healthz fails with "backup" (a missed night and a bit).
BACKUP_FOLDER = None
BACKUP_KEEP_DAYS = 14
BACKUP_MAX_AGE_HOURS = 26
