# platform-migrate's warm start for a fleet: one Python that has imported Django once, and
# forks a copy of itself for each helper session a target's run starts, instead of a fresh
# interpreter importing it all again. Started by the fleet's host process with no secrets;
# it never reads one. Its only input is what the hosts of the fleet's targets send over the
# socket pairs the fleet hands it (fd 3 brings them), and it runs no project code itself:
# settings, apps and migrations are loaded in the fork, after the fork has entered its own
# kernel confinement and taken its own environment.
import json
import os
import select
import signal
import socket
import sys

CONTROL = socket.socket(fileno=3)

# What every Django management command imports before it reads the settings.
for name in (
    "django",
    "django.core.management",
    "django.core.management.base",
    "django.core.management.commands.shell",
    "django.core.management.commands.migrate",
    "django.db.models",
    "django.db.migrations.executor",
    "django.db.migrations.autodetector",
    "django.db.backends.base.schema",
    "django.urls",
    "django.http",
):
    __import__(name)
# The database drivers, where installed.
for name in ("psycopg", "psycopg2", "django.db.backends.postgresql.base"):
    try:
        __import__(name)
    except ImportError:
        pass


# The longest start request read (its argv holds the helper script).
MAX_REQUEST = 1 << 20


def landlock(ruleset):
    """Enter the ruleset the target's host made for this program (the same one a fresh
    start would enter before exec)."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_NO_NEW_PRIVS = 38
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
    SYS_landlock_restrict_self = 446
    if libc.syscall(SYS_landlock_restrict_self, ruleset, 0) != 0:
        raise OSError(ctypes.get_errno(), "landlock_restrict_self")


def die_with_parent():
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def end_orphans(kids):
    """Kill the processes that came back to the zygote as subreaper: descendants of a fork
    that left its process group and outlived their parents (as the host ends a program's)."""
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in kids:
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                rest = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        if len(rest) > 1 and rest[1] == str(me):
            try:
                os.kill(int(name), signal.SIGKILL)
            except OSError:
                pass


def become(request, fds):
    """In the fork: become `python ARGV...` as the host asked. Never returns."""
    stdin, stdout, stderr, cwd, status = fds[:5]
    ruleset = fds[5] if len(fds) > 5 else None
    code = 1
    try:
        os.setpgid(0, 0)
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        die_with_parent()
        if ruleset is not None:
            landlock(ruleset)
        elif request.get("confined"):
            raise OSError("the host sent no ruleset")
        for fd, at in ((stdin, 0), (stdout, 1), (stderr, 2)):
            os.dup2(fd, at)
        os.fchdir(cwd)
        # Nothing of the zygote's or of other targets stays open: only stdio and this
        # program's own status socket, until the environment is read from it.
        os.closerange(3, status)
        os.closerange(status + 1, max(os.sysconf("SC_OPEN_MAX"), 1 << 16))
        with socket.socket(fileno=status) as s, s.makefile("rb") as f:
            env = json.loads(f.readline())
        os.environ.clear()
        os.environ.update(env)
        # Nothing the imports cached from the zygote's own environment survives.
        if "tempfile" in sys.modules:
            sys.modules["tempfile"].tempdir = None
        argv = request["argv"]
        sys.argv = list(argv)
        sys.path[0] = os.path.dirname(os.path.abspath(argv[0]))
        sys.stdin = open(0, "r", closefd=False)
        sys.stdout = open(1, "w", closefd=False)
        sys.stderr = open(2, "w", closefd=False)
        import runpy

        try:
            runpy.run_path(argv[0], run_name="__main__")
            code = 0
        except SystemExit as e:
            if e.code is None:
                code = 0
            elif isinstance(e.code, int):
                code = e.code
            else:
                print(e.code, file=sys.stderr)
                code = 1
        except BaseException:
            import traceback

            traceback.print_exc()
            code = 1
        # What the interpreter does on its way out: wait for its threads, run atexit.
        if "threading" in sys.modules:
            try:
                sys.modules["threading"]._shutdown()
            except Exception:
                pass
        import atexit

        atexit._run_exitfuncs()
        for f in (sys.stdout, sys.stderr):
            try:
                f.flush()
            except Exception:
                pass
    except BaseException as e:
        try:
            os.write(2, f"platform-migrate warm start: {type(e).__name__}: {e}\n".encode())
        except Exception:
            pass
        code = 1
    os._exit(code & 0xFF)


def main():
    import ctypes

    PR_SET_CHILD_SUBREAPER = 36
    ctypes.CDLL(None).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    os.set_blocking(wake_r, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    poll = select.poll()
    poll.register(CONTROL, select.POLLIN)
    poll.register(wake_r, select.POLLIN)
    hosts = {}  # fd -> the socket of one target's host
    kids = {}  # pid -> its status socket (the zygote's copy)
    watched = {}  # status socket fd -> pid
    while True:
        for fd, ev in poll.poll():
            if fd == CONTROL.fileno():
                msg, got, _, _ = socket.recv_fds(CONTROL, 4096, 16)
                if not msg:
                    # The fleet is over (or its host died): end what still runs.
                    for pid in kids:
                        try:
                            os.killpg(pid, signal.SIGKILL)
                        except OSError:
                            pass
                    end_orphans({})
                    return
                for h in got:
                    s = socket.socket(fileno=h)
                    hosts[h] = s
                    poll.register(h, select.POLLIN)
            elif fd == wake_r:
                try:
                    os.read(wake_r, 512)
                except BlockingIOError:
                    pass
                while kids:
                    # As the host does with a program it started: end what is left of the
                    # program's process group while its leader (a zombie until reaped)
                    # still holds the group's number, then reap it.
                    try:
                        info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
                    except ChildProcessError:
                        break
                    if info is None:
                        break
                    try:
                        os.killpg(info.si_pid, signal.SIGKILL)
                    except OSError:
                        pass
                    pid, status = os.waitpid(info.si_pid, 0)
                    s = kids.pop(pid, None)
                    if s is None:
                        continue
                    end_orphans(kids)
                    if watched.pop(s.fileno(), None) is not None:
                        poll.unregister(s)
                    if os.WIFSIGNALED(status):
                        line = {"signal": os.WTERMSIG(status)}
                    else:
                        line = {"exit": os.WEXITSTATUS(status)}
                    try:
                        s.sendall((json.dumps(line) + "\n").encode())
                    except OSError:
                        pass
                    s.close()
            elif fd in watched:
                if ev & (select.POLLHUP | select.POLLRDHUP | select.POLLERR):
                    # The target's host let go of the program before it ended: end it (it is
                    # reaped, and its status dropped, when it has).
                    try:
                        os.killpg(watched.pop(fd), signal.SIGKILL)
                    except OSError:
                        pass
                    poll.unregister(fd)
            elif fd in hosts:
                s = hosts[fd]
                try:
                    msg, got, _, _ = socket.recv_fds(s, 65536, 6)
                except OSError:
                    msg, got = b"", []
                if not msg:
                    for g in got:
                        os.close(g)
                    poll.unregister(fd)
                    hosts.pop(fd).close()
                    continue
                try:
                    # A stream socket hands a long request (the helper script is tens of KiB)
                    # over in pieces, the descriptors with the first: read to its newline.
                    while not msg.endswith(b"\n") and len(msg) < MAX_REQUEST:
                        more = s.recv(65536)
                        if not more:
                            break
                        msg += more
                    request = json.loads(msg)
                    if len(got) < 5 or not request.get("argv"):
                        raise ValueError("a start needs argv and five descriptors")
                    pid = os.fork()
                except Exception as e:
                    for g in got:
                        os.close(g)
                    s.sendall((json.dumps({"error": f"{type(e).__name__}: {e}"}) + "\n").encode())
                    continue
                if pid == 0:
                    become(request, got)
                try:
                    os.setpgid(pid, pid)
                except OSError:
                    pass
                status = socket.socket(fileno=got[4])
                for g in got[:4] + got[5:]:
                    os.close(g)
                kids[pid] = status
                watched[status.fileno()] = pid
                poll.register(status, select.POLLRDHUP)
                s.sendall((json.dumps({"pid": pid}) + "\n").encode())


main()
