"""gunicorn settings, inside the package so an installed wheel has them (`gunicorn -c python:speakup.gunicorn_conf
speakup.wsgi:app`; the repository's gunicorn.conf.py is the same). The access log is one JSON line a request, in
the app's own log shape: method, path (the route the app matched, never the path as sent), status, duration and the
app's request id, never the client address or user agent (speakup/platform/gunicorn_logging.py writes it;
deploy/nginx/speakup.conf is the proxy)."""

import os

bind = os.environ.get("SPEAKUP_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SPEAKUP_WORKERS", "2"))
threads = int(os.environ.get("SPEAKUP_THREADS", "4"))
worker_class = "gthread"
timeout = 30
accesslog = os.environ.get("SPEAKUP_ACCESS_LOG", "-")
errorlog = os.environ.get("SPEAKUP_ERROR_LOG", "-")
# Only these addresses may tell gunicorn the scheme (X-Forwarded-Proto): the proxy on this host. The client address
# is not taken from X-Forwarded-For here: the app does that itself when SPEAKUP_PROXY_FIX_X_FOR is set.
forwarded_allow_ips = os.environ.get("SPEAKUP_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
# gunicorn 25.1+ opens a management socket (worker counts, reload, shutdown) at a per-user default path
# ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl) that every instance on the host shares. Off unless a path is given.
control_socket_path = os.environ.get("SPEAKUP_CONTROL_SOCKET", "")
control_socket_disable = not control_socket_path
if control_socket_path:
    control_socket = control_socket_path
# Writes the access log as JSON lines with fields it picks itself (so access_log_format is not used), naming the
# route the app matched, never the path as sent, whatever the status: a pasted access code must never reach a log.
logger_class = "speakup.platform.gunicorn_logging.AccessLogger"

M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
LARGE_ALLOCATION_BYTES = 1 << 20


def return_large_allocations_to_the_os() -> bool:
    """glibc raises its mmap threshold each time a large block is freed (up to 32 MiB), after which blocks
    that size come from a per-thread arena and stay resident when freed: every thread of a worker ends up
    holding one Argon2id block (ARGON2_MEMORY_KIB) for good. A fixed threshold sends each large block
    straight to mmap and back to the system when freed. Returns False where the C library is not glibc."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        return bool(libc.mallopt(M_MMAP_THRESHOLD, LARGE_ALLOCATION_BYTES))
    except (OSError, AttributeError):
        return False


def post_fork(server, worker):
    return_large_allocations_to_the_os()


def when_ready(server):
    """Rate limits counted in each worker's memory multiply every budget (access-code guesses, sign-ins) by the
    number of workers: said at ERROR, once, when more than one serves without a shared store such as Redis."""
    store = os.environ.get("SPEAKUP_RATELIMIT_STORAGE_URI") or "memory://"
    if server.cfg.workers > 1 and store.startswith("memory://"):
        server.log.error(
            "Rate limits are counted per worker (SPEAKUP_RATELIMIT_STORAGE_URI is memory://) with %d workers: "
            "each limit is %d times what it says; set it to the Redis address (docs/deploy.md, section 3)",
            server.cfg.workers,
            server.cfg.workers,
        )
