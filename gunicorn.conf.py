"""gunicorn settings. The access log records method, path without query, status and duration,
and never the client address or user agent."""

import os

bind = os.environ.get("SPEAKUP_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("SPEAKUP_WORKERS", "2"))
threads = int(os.environ.get("SPEAKUP_THREADS", "4"))
worker_class = "gthread"
timeout = 30
accesslog = os.environ.get("SPEAKUP_ACCESS_LOG", "-")
errorlog = os.environ.get("SPEAKUP_ERROR_LOG", "-")
# %(m)s method, %(U)s path without query string, %(s)s status, %(M)s duration in milliseconds.
access_log_format = '%(m)s %(U)s %(s)s %(M)sms'
forwarded_allow_ips = os.environ.get("SPEAKUP_FORWARDED_ALLOW_IPS", "127.0.0.1")
proxy_allow_ips = forwarded_allow_ips
# gunicorn 25.1+ opens a management socket (worker counts, reload, shutdown) at a per-user default path
# ($XDG_RUNTIME_DIR or ~/.gunicorn/gunicorn.ctl) that every instance on the host shares. Off unless a path is given.
control_socket_path = os.environ.get("SPEAKUP_CONTROL_SOCKET", "")
control_socket_disable = not control_socket_path
if control_socket_path:
    control_socket = control_socket_path
# Paths of unmatched requests (404) are not logged: a pasted access code must never reach a log.
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
