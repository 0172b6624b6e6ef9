# SPDX-License-Identifier: MIT
"""Shim coverage (issue 3): entry points glibc reaches without going
through the hooks a naive shim has, symbol versions, raw syscall(),
io_uring, the image_start record, re-injection and seccomp sandboxes.
Each test compares the program's behaviour with and without the shim and
checks the records the shim left."""

import os
import re
import shutil
import stat
import subprocess
import time
import unittest

from harness import PRELOAD, PROGS, PYTHON, RUNTIME, SHIM, WriterTest, dump, main


def prog(name):
    return os.path.join(PROGS, name)


def plain_env(extra=None):
    env = dict(os.environ)
    env.pop("LD_PRELOAD", None)
    env.pop("AUDITSHIM_SOCKET", None)
    if RUNTIME:
        env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
    env.update(extra or {})
    return env


def api(r):
    return (r.get("detail") or {}).get("api")


class Coverage(WriterTest):

    def pair(self, argv, name, env_extra=None, **kw):
        """Runs ARGV without and with the shim in two fresh directories;
        returns both CompletedProcesses and the directories."""
        out = []
        for mode in ("plain", "shim"):
            d = os.path.join(self.work, "%s-%s" % (name, mode))
            os.mkdir(d)
            env = plain_env(env_extra) if mode == "plain" else \
                self.w.env(plain_env(env_extra))
            cp = subprocess.run(argv, env=env, cwd=d, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                timeout=120, **kw)
            out.append((cp, d))
        return out

    def assert_same(self, a, b):
        self.assertEqual((a.returncode, a.stdout, a.stderr),
                         (b.returncode, b.stdout, b.stderr))

    def test_exports_only_hooks_and_both_spawn_versions(self):
        cp = subprocess.run(["nm", "-D", "--defined-only", SHIM],
                            stdout=subprocess.PIPE, text=True, check=True)
        names = {line.split()[-1] for line in cp.stdout.splitlines() if line.strip()}
        for v in ("posix_spawn@@GLIBC_2.15", "posix_spawn@GLIBC_2.2.5",
                  "posix_spawnp@@GLIBC_2.15", "posix_spawnp@GLIBC_2.2.5"):
            self.assertIn(v, names)
        for hook in ("tmpfile", "tmpfile64", "mkstemp", "mkstemp64", "mkostemp",
                     "mkostemps", "mkstemps", "mkdtemp", "remove", "__xmknod",
                     "__xmknodat", "gethostbyname", "gethostbyname2",
                     "gethostbyname_r", "getnameinfo", "syscall",
                     "posix_spawn_file_actions_addopen",
                     "posix_spawn_file_actions_addchdir_np",
                     "posix_spawn_file_actions_addfchdir_np", "open", "execve",
                     "dup2", "dup3", "fcntl", "fcntl64", "pipe2", "socket",
                     "accept4", "epoll_create1", "memfd_create", "_exit", "_Exit",
                     "popen", "pclose", "fclose", "fopen", "fopen64",
                     "freopen", "freopen64"):
            self.assertIn(hook, names)
        # Nothing internal leaks out (no wire_*, shim_*, rec_*).
        bad = [n for n in names if re.match(r"(wire_|shim_|rec_|conn_)", n)]
        self.assertEqual(bad, [])
        # Every other hook is unversioned, so a reference of any version
        # (open@GLIBC_2.2.5) binds to it.
        versioned = {n for n in names if "@" in n}
        self.assertEqual({n.split("@")[0] for n in versioned},
                         {"posix_spawn", "posix_spawnp"})

    @unittest.skipIf(RUNTIME, "ASan's posix_spawn interceptor binds the default "
                     "version, so the test program never reaches the compat one")
    def test_posix_spawn_compat_version_runs_shebangless_script(self):
        bindir = os.path.join(self.work, "bin")
        os.mkdir(bindir)
        script = os.path.join(bindir, "noshebang")
        with open(script, "w") as f:
            f.write("echo script-ran \"$1\"\n")
        os.chmod(script, 0o755)
        env = {"PATH": bindir + ":/usr/bin:/bin"}
        (a, _), (b, _) = self.pair([prog("spawn_compat"), script], "old",
                                   env_extra=env)
        self.assert_same(a, b)
        # The script ran through /bin/sh (glibc's compat fallback); for
        # posix_spawnp glibc passes sh the bare name (status 2 here), which
        # the shim must not change either.
        self.assertIn(b"script-ran arg1\nposix_spawn@GLIBC_2.2.5 rc=0 status=0",
                      b.stdout)
        self.assertIn(b"posix_spawnp@GLIBC_2.2.5 rc=0", b.stdout)
        # The default version still refuses it (ENOEXEC = 8), shim or not.
        (a, _), (b, _) = self.pair([prog("spawn_compat"), script, "new"], "new",
                                   env_extra=env)
        self.assert_same(a, b)
        self.assertIn(b"posix_spawn@GLIBC_2.15 rc=8", b.stdout)
        rows = self.w.records()
        old = [r for r in rows if r["event"] == "spawn" and
               api(r) in ("posix_spawn@GLIBC_2.2.5", "posix_spawnp@GLIBC_2.2.5")]
        self.assertEqual(len(old), 2, dump(rows))
        self.assertTrue(all(r["result"] == "ok" and r["target"] == script
                            for r in old), dump(old))
        new = self.one(rows, "spawn", result="error")
        self.assertEqual(api(new), "posix_spawn")
        self.assertEqual(new["errno"], "ENOEXEC")

    def test_libc_internal_entry_points(self):
        (a, da), (b, d) = self.pair([prog("entry_points")], "entries")
        self.assert_same(a, b)
        self.assertNotIn(b" fail", b.stdout.replace(b"remove-missing fail", b"")
                         .replace(b"gethostbyname-missing fail", b""), b.stdout)
        rows = self.w.records()

        def by_api(name, event=None):
            # Built with _FILE_OFFSET_BITS=64, mkstemp is mkstemp64.
            got = [r for r in rows if api(r) in (name, name + "64") and
                   (event is None or r["event"] == event)]
            self.assertTrue(got, "no %s record:\n%s" % (name, dump(rows, 200)))
            return got

        r = by_api("tmpfile", "open")[0]
        self.assertEqual(r["result"], "ok")
        self.assertTrue(r["target"].startswith("/"), r)
        names = sorted(os.listdir(d))
        for fn, prefix in (("mkstemp", "cov-stemp-"), ("mkostemp", "cov-ostemp-"),
                           ("mkstemps", "cov-stemps-"), ("mkostemps", "cov-ostemps-")):
            created = [n for n in names if n.startswith(prefix)]
            self.assertEqual(len(created), 1, names)
            r = by_api(fn, "open")[0]
            self.assertEqual(r["target"], os.path.join(d, created[0]))
            self.assertIn("O_CREAT", r["detail"]["flags"])
            self.assertIn("O_EXCL", r["detail"]["flags"])
        self.assertIn("O_CLOEXEC", by_api("mkostemp")[0]["detail"]["flags"])
        self.assertIn("O_APPEND", by_api("mkostemps")[0]["detail"]["flags"])
        r = by_api("mkdtemp", "mkdir")[0]
        self.assertTrue(r["target"].startswith(os.path.join(d, "cov-dtemp-")), r)
        self.assertEqual(r["detail"]["mode"], "0700")
        rm = by_api("remove")
        self.assertEqual(sorted((x["event"], os.path.basename(x["target"]),
                                 x["result"], x["errno"]) for x in rm),
                         sorted([("unlink", "cov-remove-file", "ok", None),
                                 ("rmdir", os.path.basename(by_api("mkdtemp")[0]["target"]),
                                  "ok", None),
                                 ("unlink", "cov-no-such-file", "error", "ENOENT")]))
        self.assertEqual(by_api("mknod", "mknod")[0]["target"],
                         os.path.join(d, "cov-fifo1"))
        r = by_api("__xmknod", "mknod")[0]
        self.assertEqual(r["target"], os.path.join(d, "cov-fifo2"))
        self.assertTrue(int(r["detail"]["mode"], 8) & stat.S_IFIFO)
        for fn in ("gethostbyname", "gethostbyname2", "gethostbyname_r"):
            ok = [x for x in by_api(fn, "resolve") if x["target"] == "localhost"]
            self.assertEqual(len(ok), 1, dump(rows, 200))
            self.assertEqual(ok[0]["result"], "ok")
            self.assertIn("127.0.0.1", ok[0]["detail"]["addresses"])
        miss = [x for x in by_api("gethostbyname")
                if x["target"] == "cov-no-such-host.invalid"]
        self.assertEqual([x["result"] for x in miss], ["error"])
        r = by_api("getnameinfo", "resolve")[0]
        self.assertEqual(r["target"], "127.0.0.1:80")
        # posix_spawn file actions, noted when added.
        acts = [x for x in rows if x["event"] == "spawn_action"]
        self.assertEqual(sorted((api(x), x["target"]) for x in acts),
                         sorted([("posix_spawn_file_actions_addopen",
                                  os.path.join(d, "cov-spawn-out")),
                                 ("posix_spawn_file_actions_addchdir_np",
                                  os.path.join(d, "cov-sub")),
                                 ("posix_spawn_file_actions_addfchdir_np", d)]),
                         dump(acts))
        op = [x for x in acts if api(x) == "posix_spawn_file_actions_addopen"][0]
        self.assertIn("O_CREAT", op["detail"]["flags"])
        self.assertEqual(op["detail"]["fd"], 1)
        with open(os.path.join(d, "cov-spawn-out")) as f:
            self.assertEqual(f.read(), "spawned\n")
        # Raw syscall(): audited numbers recorded, others not.
        r = by_api("syscall:openat", "open")[0]
        self.assertEqual(r["target"], os.path.join(d, "cov-sys-open"))
        r = by_api("syscall:renameat2", "rename")[0]
        self.assertEqual((r["target"], r["detail"]["from"]),
                         (os.path.join(d, "cov-sys-renamed"),
                          os.path.join(d, "cov-sys-open")))
        by_api("syscall:mkdirat", "mkdir")
        by_api("syscall:unlinkat", "unlink")
        by_api("syscall:unlinkat", "rmdir")
        r = by_api("syscall:execve", "exec")[0]
        self.assertEqual((r["target"], r["argv"], r["result"]),
                         ("/bin/true", ["/bin/true", "from-syscall"], "attempt"))
        self.assertFalse([x for x in rows if (api(x) or "").startswith("syscall:")
                          and "getpid" in api(x)])
        self.assert_pseq_complete(rows)

    def test_io_uring_refused_by_default(self):
        (a, _), (b, _) = self.pair([prog("uring")], "uring")
        self.assertEqual(b.stdout, b"io_uring_setup ENOSYS\n")
        # The option turns it off: then behaviour is the kernel's own.
        (a, _), (c, _) = self.pair([prog("uring")], "uring-allow",
                                   env_extra={"AUDITSHIM_IO_URING": "allow"})
        self.assert_same(a, c)
        if c.returncode == 0:
            rows = self.w.records()
            r = self.one(rows, "blind_spot")
            self.assertEqual(api(r), "syscall:io_uring_setup")
            self.assertIn("io_uring", r["detail"]["reason"])

    def test_image_start_and_no_descriptor_left(self):
        cmd = "/bin/ls /proc/self/fd; exec /bin/ls -1 /proc/self/fd"
        (a, _), (b, d) = self.pair(["/bin/sh", "-c", cmd], "img")
        # The same descriptors at main, shim or not.
        self.assert_same(a, b)
        rows = self.w.records()
        ls_exe = os.path.realpath("/bin/ls")
        imgs = [r for r in rows if r["event"] == "image_start" and
                r["target"] == ls_exe]
        self.assertEqual(len(imgs), 2, dump(rows))
        for r in imgs:
            self.assertEqual(r["detail"]["program"], ls_exe)
            self.assertEqual(r["detail"]["cwd"], d)
            self.assertIs(r["detail"]["secure"], False)
            # Paired with the exec record the parent sent, same pid.
            ex = [x for x in rows if x["event"] == "exec" and x["pid"] == r["pid"]
                  and x["result"] == "attempt"]
            self.assertEqual(len(ex), 1, dump(rows))
            self.assertEqual(ex[0]["argv"], r["argv"])
        self.assertEqual(sorted(r["argv"][1:] for r in imgs),
                         [["-1", "/proc/self/fd"], ["/proc/self/fd"]])
        sh = [r for r in rows if r["event"] == "image_start" and
              r["argv"] and r["argv"][0] == "/bin/sh"]
        self.assertEqual(len(sh), 1, dump(rows))
        self.assert_pseq_complete(rows)

    def env_lines(self, out):
        return [l for l in out.decode().splitlines()
                if l.startswith(("LD_PRELOAD=", "AUDITSHIM_"))]

    @unittest.skipIf(RUNTIME, "the sanitizer runtime is preloaded as well")
    def test_relative_names_are_pinned_at_load(self):
        # LD_PRELOAD and AUDITSHIM_SOCKET relative to the cwd at load: the
        # first record, made after a chdir, still reaches the writer, and
        # a child started with an empty environment gets both back as
        # absolute names that work.
        here = os.path.dirname(SHIM)
        out = os.path.join(self.work, "after-chdir.txt")
        code = ("import os\n"
                "os.chdir('/')\n"
                "open(%r, 'w').close()\n"
                "os.execve('/usr/bin/env', ['env'], {})\n" % out)
        env = {"LD_PRELOAD": "./" + os.path.basename(SHIM),
               "AUDITSHIM_SOCKET": os.path.relpath(self.w.socket, here),
               "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
        cp = subprocess.run([PYTHON, "-c", code], cwd=here, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=60)
        self.assertEqual((cp.returncode, cp.stderr), (0, b""))
        got = dict(l.split("=", 1) for l in self.env_lines(cp.stdout))
        self.assertEqual(sorted(got), ["AUDITSHIM_SOCKET", "LD_PRELOAD"], cp.stdout)
        for k, want in (("LD_PRELOAD", SHIM), ("AUDITSHIM_SOCKET", self.w.socket)):
            self.assertTrue(got[k].startswith("/"), got)
            self.assertTrue(os.path.samefile(got[k], want), got)
        rows = self.w.records()
        self.one(rows, "open", target=out)
        self.assertTrue([r for r in rows if r["event"] == "image_start" and
                         r["target"] == os.path.realpath("/usr/bin/env")], dump(rows))

    @unittest.skipIf(RUNTIME, "the sanitizer runtime is preloaded as well")
    def test_reinjection_duplicates_asan_and_empty_env(self):
        envexec = prog("envexec")
        sock = "AUDITSHIM_SOCKET=" + self.w.socket
        # A decoy: the loader uses the LAST entry, which lacks the shim.
        cp = self.w.run([envexec, "LD_PRELOAD=" + SHIM, "LD_PRELOAD=libm.so.6",
                         sock, "--", "/usr/bin/env"], cwd=self.work)
        self.assertEqual(self.env_lines(cp.stdout),
                         ["LD_PRELOAD=libm.so.6:" + SHIM, sock])
        # Another runtime stays first (ASan insists on it).
        asan = "/usr/lib/x86_64-linux-gnu/libasan.so.8"
        if os.path.exists(asan):
            cp = self.w.run([envexec, "LD_PRELOAD=" + asan, sock, "ASAN_OPTIONS=detect_leaks=0",
                             "--", "/usr/bin/env"], cwd=self.work)
            self.assertEqual(self.env_lines(cp.stdout),
                             ["LD_PRELOAD=%s:%s" % (asan, SHIM), sock])
        # An empty envp, through execvpe's own PATH search.
        cp = self.w.run([envexec, "-x", "-", "--", "env"], cwd=self.work)
        self.assertEqual(sorted(cp.stdout.decode().splitlines()),
                         sorted(["LD_PRELOAD=" + SHIM, sock]))
        rows = self.w.records()
        envs = [r for r in rows if r["event"] == "image_start" and
                r["target"] == os.path.realpath("/usr/bin/env")]
        self.assertEqual(len(envs), 3 if os.path.exists(asan) else 2, dump(rows))

    def shell_pair(self, name):
        """Runs progs/NAME (which drops LD_PRELOAD from environ and starts
        shells) without and with the shim: the same exit status and
        stdout, and only the shimmed run's shells preloaded.  Returns the
        shimmed run's stdout and directory."""
        (a, _), (b, d) = self.pair([prog(name)], name)
        self.assertEqual((a.returncode, a.stdout), (b.returncode, b.stdout))
        self.assertEqual(a.stderr, b"child-preload=\n")
        self.assertEqual(b.stderr, b"child-preload=set\n")
        return b.stdout.decode(), d

    def test_system_after_unsetenv_still_shims_the_child(self):
        out, d = self.shell_pair("sysdiff")
        for line in ("exit3 exit 3", "null 1", "term signal 15", "int exit 0",
                     "after: SIGINT handler SIGQUIT ignored USR1 blocked CHLD open got_int=0",
                     "threads: SIGINT handler", "touch exit 0", "missing exit 127"):
            self.assertIn(line, out)
        rows = self.w.records()
        self.assertFalse([r for r in rows if r["event"] == "blind_spot"], dump(rows))
        spawns = [r for r in rows if r["event"] == "spawn" and api(r) == "system"]
        self.assertEqual(len(spawns), 10, dump(rows))
        # The grandchild (touch, under the shell system() started) is shimmed.
        touch = self.one(rows, "open", target=os.path.join(d, "sys-marker"))
        self.assertNotEqual(touch["pid"], spawns[0]["pid"])

    def test_popen_after_unsetenv_still_shims_the_child(self):
        out, d = self.shell_pair("popendiff")
        for line in ('read read "hello|world|" ferror=0', "read exit 0",
                     'write-file read "written|through a pipe|" ferror=0',
                     "exit3 exit 3", "term signal 15", "missing exit 127",
                     "nocmd exit 127", 'mode "rw" popen NULL errno=EINVAL',
                     'mode "rb" popen NULL errno=EINVAL',
                     'mode "ee" popen NULL errno=EINVAL',
                     'mode "er" read "m|" ferror=0', "modes leaked 0",
                     "cloexec r 0", "cloexec re 1", "cloexec w 0",
                     "cloexec we 1", "fclose exit 5",
                     "after fclose waitpid -1 errno=ECHILD",
                     "epipe -1 errno=EPIPE", "sigchld-ign -1 errno=ECHILD",
                     'thread 1 read "thread 1" exit 0',
                     'thread 2 read "thread 2" exit 0',
                     "many 70 streams, 0 wrong statuses",
                     "fork-child-pclose -1 errno=ECHILD",
                     'fork-parent read "from-before-fork|" ferror=0',
                     "emfile-pipe popen NULL errno=EMFILE",
                     "emfile-dup NULL errno=ENOMEM", "stdin-closed exit 0",
                     "fds leaked after mixed 0", "fds leaked overall 0"):
            self.assertIn(line, out)
        # No child inherits an earlier stream; the check can tell.
        self.assertRegex(out, r"control child fd \d+ inherited")
        for what in ("mixed-1", "mixed-2", "mixed-3", "two-open",
                     "two-open-e", "many", "fork-child"):
            self.assertRegex(out, r"%s child fd \d+ absent" % what)
        rows = self.w.records()
        self.assertFalse([r for r in rows if r["event"] == "blind_spot"], dump(rows))
        spawns = [r for r in rows if r["event"] == "spawn" and api(r) == "popen"]
        self.assertEqual(len(spawns), 42 + 71, dump(rows))
        # Every shell ran shimmed: each readlink it started announced itself,
        # and the last one's touch was recorded from its own pid.
        readlinks = [r for r in rows if r["event"] == "image_start" and
                     r["target"] == os.path.realpath("/usr/bin/readlink")]
        self.assertEqual(len(readlinks), 8, dump(rows))
        touch = self.one(rows, "open", target=os.path.join(d, "popen-marker"))
        self.assertNotIn(touch["pid"], {r["pid"] for r in spawns})

    def test_seccomp_refusing_sockets_disables_the_shim(self):
        exe = prog("seccomp_deny")
        (a, _), (b, _) = self.pair([exe], "seccomp")
        self.assert_same(a, b)
        self.assertIn(b"socket -1 EPERM", b.stdout)
        self.assertIn(b"child writes 100", b.stdout)
        rows = self.w.records()
        # The parent's image_start got out before its filter was installed.
        self.assertTrue([r for r in rows if r["event"] == "image_start"
                         and r["argv"] == [exe]], dump(rows))
        strace = shutil.which("strace")
        if not strace:
            self.skipTest("strace not installed: socket attempts not counted")
        d = os.path.join(self.work, "seccomp-strace")
        os.mkdir(d)
        trace = os.path.join(d, "trace")
        cp = subprocess.run([strace, "-f", "-qq", "-e", "trace=socket", "-o",
                             trace, exe], env=self.w.env(plain_env()), cwd=d,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            timeout=120)
        self.assertEqual(cp.stdout, a.stdout)
        with open(trace) as f:
            calls = [l for l in f if "socket(" in l]
        # The parent's image_start (before the filter), one by the program
        # itself, one refused for the shim in the parent (then it stays
        # off, in the fork child too), one in the re-executed image.  A
        # shim that keeps retrying makes one every 50 ms for ~0.5 s.
        self.assertLessEqual(len(calls), 4, "".join(calls))


    def test_exec_without_image_start_is_a_coverage_gap(self):
        # A child whose environment points its shim at a dead socket runs
        # unobserved: its exec was announced, its image never was.  A
        # normal exec next to it pairs and leaves no gap.
        code = ("import os, subprocess\n"
                "subprocess.run(['/bin/true', 'observed'], check=True)\n"
                "env = {'LD_PRELOAD': os.environ['LD_PRELOAD'],\n"
                "       'AUDITSHIM_SOCKET': '/nonexistent/dead.sock'}\n"
                "os.execve('/bin/true', ['true', 'unobserved'], env)\n")
        self.w.run([PYTHON, "-c", code])
        deadline = time.monotonic() + 15
        gaps = []
        while time.monotonic() < deadline and not gaps:
            time.sleep(0.5)
            gaps = [r for r in self.w.records(settle=False) if r["event"] == "gap"
                    and "no image_start" in (r["detail"] or {}).get("reason", "")]
        self.assertEqual(len(gaps), 1, dump(self.w.records()))
        self.assertIn("/bin/true", gaps[0]["detail"]["reason"])
        self.assertIn("within 5 s", gaps[0]["detail"]["reason"])
        rows = self.w.final_records()
        execs = [r for r in rows if r["event"] == "exec" and r["target"] == "/bin/true"]
        self.assertEqual(len(execs), 2, dump(rows))
        self.assertEqual(gaps[0]["pid"], [r for r in execs
                                         if r["argv"] == ["true", "unobserved"]][0]["pid"])
        self.assertEqual(len([r for r in rows if r["event"] == "gap"
                              and "no image_start" in (r["detail"] or {}).get("reason", "")]), 1)

    def send_exec_story(self, then_exec_again):
        """Sends, on two connections of this process, the image_start of
        its next image first and then the attempts that led there: two
        tries along PATH that failed, then the one that worked; with
        THEN_EXEC_AGAIN, an exec from the new image that never announces
        its own.  Returns the writer's coverage gaps, by program."""
        import socket
        from test_writer import msg, u64

        def rec(event, pseq, image, t, target, outcome, err=None):
            f = [(1, u64(event)), (2, u64(pseq)), (3, u64(image)),
                 (4, u64(t)), (9, target.encode()), (8, u64(outcome))]
            return msg(1, f + ([(7, u64(err))] if err else []))

        def conn():
            s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            s.connect(self.w.socket)
            return s

        t = time.time_ns()
        old, new = 0x1111, 0x2222
        first = conn()
        first.send(rec(3, 1, new, t + 10, "/usr/bin/tool", 0))
        first.close()
        time.sleep(0.5)         # read and remembered before the attempts
        second = conn()
        for i, d in enumerate(("/a", "/b")):
            second.send(rec(1, 2 * i + 1, old, t + 2 * i, d + "/tool", 2))
            second.send(rec(1, 2 * i + 2, old, t + 2 * i + 1, d + "/tool", 1, 2))
        second.send(rec(1, 5, old, t + 4, "/usr/bin/tool", 2))
        second.close()
        if then_exec_again:
            time.sleep(0.5)
            third = conn()
            third.send(rec(1, 2, new, t + 20, "/usr/bin/other", 2))
            third.close()
        rows = self.w.final_records()
        return [r["detail"]["reason"].split(" by ")[0] for r in rows
                if r["event"] == "gap"
                and "no image_start" in (r["detail"] or {}).get("reason", "")]

    def test_image_start_before_path_search_attempts(self):
        # The image_start answers the attempt that worked, not the first
        # one (whose error follows it).
        self.assertEqual(self.send_exec_story(False), [])

    def test_image_start_answers_one_exec_only(self):
        # An exec from the new image is not answered by that image's own
        # image_start: it never announced its image, so it is a gap.
        self.assertEqual(self.send_exec_story(True), ["exec of /usr/bin/other"])

    def test_blind_popen_does_not_excuse_the_next_exec(self):
        # A popen whose environment is too large to re-inject runs its
        # shell unobserved and says so (blind_spot).  That announcement is
        # for the popen only: an exec by the same process afterwards that
        # never starts a shimmed image is still a coverage gap.
        code = ("import ctypes, os\n"
                "for i in range(1100):\n"
                "    os.environ['FILLER_%d' % i] = 'x'\n"
                "pre = os.environ.pop('LD_PRELOAD')\n"
                "libc = ctypes.CDLL(None)\n"
                "libc.popen.restype = ctypes.c_void_p\n"
                "f = libc.popen(b'exit 0', b'r')\n"
                "print(libc.pclose(ctypes.c_void_p(f)), flush=True)\n"
                "os.execve('/bin/true', ['true', 'unobserved'],\n"
                "          {'LD_PRELOAD': pre, 'AUDITSHIM_SOCKET': '/nonexistent/dead.sock'})\n")
        cp = self.w.run([PYTHON, "-c", code])
        self.assertEqual(cp.stdout, b"0\n", cp.stderr)
        deadline = time.monotonic() + 15
        gaps = []
        while time.monotonic() < deadline and not gaps:
            time.sleep(0.5)
            gaps = [r for r in self.w.records(settle=False) if r["event"] == "gap"
                    and "no image_start" in (r["detail"] or {}).get("reason", "")]
        rows = self.w.records()
        blind = [r for r in rows if r["event"] == "blind_spot"
                 and (r["detail"] or {}).get("api") == "popen"]
        self.assertEqual(len(blind), 1, dump(rows))
        self.assertEqual(len(gaps), 1, dump(rows))
        self.assertEqual(gaps[0]["pid"], blind[0]["pid"])

    def test_file_capabilities_are_a_blind_spot(self):
        setcap = shutil.which("setcap") or "/usr/sbin/setcap"
        if os.getuid() != 0 or not os.path.exists(setcap):
            self.skipTest("needs root and setcap (libcap2-bin)")
        capped = os.path.join(self.work, "capped-true")
        shutil.copy("/bin/true", capped)
        os.chmod(capped, 0o755)
        cp = subprocess.run([setcap, "cap_net_bind_service+ep", capped],
                            stderr=subprocess.PIPE)
        if cp.returncode != 0:
            self.skipTest("this filesystem refuses file capabilities: %r" % cp.stderr)
        nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]
        self.w.run(nobody + ["/bin/sh", "-c", capped], cwd=self.work)
        self.w.run(["/bin/sh", "-c", capped], cwd=self.work)
        rows = self.w.final_records()
        blind = [r for r in rows if r["event"] == "blind_spot" and r["target"] == capped]
        self.assertEqual([(r["uid"], r["detail"]["reason"]) for r in blind],
                         [(65534, "file capabilities")], dump(rows))


if __name__ == "__main__":
    main()
