# SPDX-License-Identifier: MIT
"""Capture path end to end: real programs under the shim, a real writer,
and exact checks of the records each produces."""

import os
import socket
import subprocess
import threading

from harness import PROGS, PYTHON, WriterTest, dump, main


class Capture(WriterTest):

    def test_shell_pipeline(self):
        out = os.path.join(self.work, "out.txt")
        cnt = os.path.join(self.work, "count.txt")
        self.w.run(["/bin/sh", "-c",
                    "echo hello | tr a-z A-Z > out.txt; cat out.txt | wc -c > count.txt"],
                   cwd=self.work, agent="pipeline-agent")
        with open(out) as f:
            self.assertEqual(f.read(), "HELLO\n")
        rows = self.w.records()
        # Each external command: one exec attempt with the resolved path,
        # argv and cwd, from a child of the shell.
        for prog, argv in (("/usr/bin/tr", ["tr", "a-z", "A-Z"]),
                           ("/usr/bin/cat", ["cat", "out.txt"]),
                           ("/usr/bin/wc", ["wc", "-c"])):
            r = self.one(rows, "exec", target=prog)
            self.assertEqual(r["argv"], argv)
            self.assertEqual(r["result"], "attempt")
            self.assertEqual(r["detail"].get("cwd"), self.work)
            self.assertEqual(r["class"], "tool_call")
        # The shell's redirections are writes, recorded with absolute paths.
        for path in (out, cnt):
            r = self.one(rows, "open", target=path)
            self.assertEqual(r["result"], "ok")
            self.assertIn("O_CREAT", r["detail"]["flags"])
            self.assertIn("O_TRUNC", r["detail"]["flags"])
        # One session for the whole tree, labelled with the agent.
        sh = [r for r in rows if r["pseq"] is not None]
        self.assertTrue(sh)
        self.assertEqual(len({r["session"] for r in sh}), 1, dump(rows))
        self.assertEqual({r["agent"] for r in sh}, {"pipeline-agent"})
        # Kernel-attested identity.
        self.assertTrue(all(r["uid"] == os.getuid() for r in sh))
        self.assert_pseq_complete(rows)

    def test_python_subprocess_and_posix_spawn(self):
        code = ("import subprocess, os\n"
                "subprocess.run(['/bin/true', 'from-subprocess'], check=True)\n"
                "pid = os.posix_spawn('/bin/echo', ['echo', 'spawned'], os.environ)\n"
                "os.waitpid(pid, 0)\n"
                "open('py.txt', 'w').write('x')\n")
        cp = self.w.run([PYTHON, "-c", code], cwd=self.work)
        self.assertEqual(cp.stdout, b"spawned\n")
        rows = self.w.records()
        r = self.one(rows, "exec", target="/bin/true")
        self.assertEqual(r["argv"], ["/bin/true", "from-subprocess"])
        s = self.one(rows, "spawn", target="/bin/echo")
        self.assertEqual(s["argv"], ["echo", "spawned"])
        self.assertEqual(s["result"], "ok")
        self.assertEqual(s["detail"].get("api"), "posix_spawn")
        py = self.one(rows, "open", target=os.path.join(self.work, "py.txt"))
        self.assertEqual(len({r["session"] for r in (r, s, py)}), 1)
        # The child started by subprocess reports from its own pid.
        self.assertNotEqual(r["pid"], py["pid"])
        self.assert_pseq_complete(rows)

    def test_popen_result_is_a_stream_not_a_pid(self):
        code = ("import ctypes\n"
                "libc = ctypes.CDLL(None)\n"
                "libc.popen.restype = ctypes.c_void_p\n"
                "f = libc.popen(b'echo hi > popen.txt', b'r')\n"
                "print(libc.pclose(ctypes.c_void_p(f)))\n")
        cp = self.w.run([PYTHON, "-c", code], cwd=self.work)
        self.assertEqual(cp.stdout, b"0\n")
        rows = self.w.records()
        sp = [r for r in rows if r["event"] == "spawn"
              and (r["detail"] or {}).get("api") == "popen"]
        self.assertEqual(len(sp), 1, dump(rows))
        # The shim can only see the stream's descriptor; calling it the
        # child's pid would send a reader to the wrong process.
        self.assertIn("fd", sp[0]["detail"], dump(sp))
        self.assertNotIn("pid", sp[0]["detail"], dump(sp))
        self.assertEqual(sp[0]["argv"][:2], ["/bin/sh", "-c"], dump(sp))

    def test_freopen_both_names(self):
        # freopen64 is what freopen is in a program built with
        # _FILE_OFFSET_BITS=64: both reopen for writing, both are seen.
        code = ("import ctypes\n"
                "libc = ctypes.CDLL(None)\n"
                "for fn in ('fopen', 'freopen', 'freopen64'):\n"
                "    getattr(libc, fn).restype = ctypes.c_void_p\n"
                "for fn in ('freopen', 'freopen64'):\n"
                "    f = libc.fopen(b'/dev/null', b'r')\n"
                "    g = getattr(libc, fn)(fn.encode() + b'.txt', b'w', ctypes.c_void_p(f))\n"
                "    print(fn, g == f, libc.fclose(ctypes.c_void_p(g)))\n")
        cp = self.w.run([PYTHON, "-c", code], cwd=self.work)
        self.assertEqual(cp.stdout, b"freopen True 0\nfreopen64 True 0\n", cp.stderr)
        rows = self.w.records()
        for fn in ("freopen", "freopen64"):
            r = self.one(rows, "open", target=os.path.join(self.work, fn + ".txt"))
            self.assertEqual(r["detail"]["api"], fn, dump([r]))

    def test_env_i_child_is_reinjected(self):
        self.w.run(["/bin/sh", "-c",
                    "env -i /bin/sh -c 'echo hi > scrubbed.txt; env > env.txt'"],
                   cwd=self.work)
        rows = self.w.records()
        target = os.path.join(self.work, "scrubbed.txt")
        r = self.one(rows, "open", target=target)
        # The shell started with an empty environment is still observed and
        # in the same session as its ancestor.
        sessions = {x["session"] for x in rows if x["pseq"] is not None}
        self.assertEqual(len(sessions), 1, dump(rows))
        with open(os.path.join(self.work, "env.txt")) as f:
            env = dict(line.rstrip("\n").split("=", 1) for line in f if "=" in line)
        # Only the preload and (non-default) socket were put back.
        extra = set(env) - {"PWD", "SHLVL", "_", "OLDPWD"}
        self.assertEqual(extra, {"LD_PRELOAD", "AUDITSHIM_SOCKET"}, env)
        self.assertTrue(env["LD_PRELOAD"].endswith("libauditshim.so"))
        self.assertEqual(r["result"], "ok")

    def test_closes_all_descriptors_then_writes(self):
        prog = os.path.join(PROGS, "closer")
        plain_dir = os.path.join(self.work, "plain")
        shim_dir = os.path.join(self.work, "shim")
        os.mkdir(plain_dir)
        os.mkdir(shim_dir)
        plain = subprocess.run([prog, plain_dir], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        cp = self.w.run([prog, shim_dir], check=False)
        self.assertEqual((cp.returncode, cp.stderr), (plain.returncode, plain.stderr))
        self.assertEqual(plain.returncode, 0)
        for name in sorted(os.listdir(plain_dir)):
            with open(os.path.join(plain_dir, name), "rb") as a, \
                    open(os.path.join(shim_dir, name), "rb") as b:
                self.assertEqual(a.read(), b.read(), name)
        self.assertEqual(sorted(os.listdir(plain_dir)), sorted(os.listdir(shim_dir)))
        rows = self.w.records()
        for name in "abcdefg":
            self.one(rows, "open", target=os.path.join(shim_dir, name + ".txt"))
        self.assert_pseq_complete(rows)

    def test_fork_vfork_threads(self):
        prog = os.path.join(PROGS, "forker")
        self.w.run([prog, self.work, "4", "3", "25"])
        # Stop the writer rather than guess when seven senders are done.
        rows = self.w.final_records()
        opens = self.by_event(rows, "open")
        names = {os.path.basename(r["target"]) for r in opens}
        want = {"t%d_%d" % (i, k) for i in range(4) for k in range(25)}
        want |= {"c%d_%d" % (i, k) for i in range(3) for k in range(25)}
        self.assertEqual(names & want, want)
        # Thread writes come from the parent pid; each forked child from its
        # own pid, with its own sequence starting at 1.
        parent = {r["pid"] for r in opens if os.path.basename(r["target"]).startswith("t")}
        self.assertEqual(len(parent), 1)
        children = {}
        for r in opens:
            b = os.path.basename(r["target"])
            if b.startswith("c"):
                children.setdefault(b.split("_")[0], set()).add(r["pid"])
        self.assertEqual(len(children), 3)
        for pids in children.values():
            self.assertEqual(len(pids), 1)
            self.assertNotIn(next(iter(pids)), parent)
        # The vfork child's exec record carries the vfork child's pid.
        ex = self.one(rows, "exec", target="/bin/true")
        self.assertNotIn(ex["pid"], parent)
        self.assertEqual(ex["argv"], ["true"])
        self.assertEqual(len({r["session"] for r in opens + [ex]}), 1)
        self.assert_pseq_complete(rows)
        self.assertFalse(self.by_event(rows, "gap"), dump(self.by_event(rows, "gap")))

    def test_exec_record_names_the_program_that_execs(self):
        # A shell's child sends its exec record and execs at once; the
        # writer's view of the sender (the exe column) must be the shell,
        # not the program it started, however late the writer looks.
        shell = os.path.realpath("/bin/sh")
        true = os.path.realpath("/bin/true")
        self.w.run(["/bin/sh", "-c", "i=0; while [ $i -lt 60 ]; do /bin/true; "
                    "i=$((i+1)); done"], cwd=self.work)
        rows = self.w.final_records()
        execs = self.by_event(rows, "exec", target="/bin/true")
        self.assertEqual(len(execs), 60)
        wrong = [r for r in execs if r["exe"] not in (shell, None, "")]
        self.assertEqual(len(wrong), 0, "%d exec records attributed to %r" %
                         (len(wrong), sorted({r["exe"] for r in wrong})))
        named = [r for r in execs if r["exe"] == shell]
        self.assertGreater(len(named), 30, "only %d of 60 name the shell" %
                           len(named))
        self.assertNotEqual(shell, true)

    def test_write_before_the_shims_constructor(self):
        # A library the program links runs its constructor before ours:
        # the shim initialises itself inside that first hook (symbols by
        # dlsym alone, not the hash tables) and records it like any other.
        early = os.path.join(self.work, "early.txt")
        late = os.path.join(self.work, "late.txt")
        self.w.run([os.path.join(PROGS, "earlyprog"), late],
                   env={"EARLY_FILE": early})
        self.assertTrue(os.path.exists(early) and os.path.exists(late))
        rows = self.w.records()
        a = self.one(rows, "open", target=early)
        b = self.one(rows, "open", target=late)
        self.assertEqual(a["result"], "ok")
        self.assertEqual(a["pid"], b["pid"])
        self.assertLess(a["pseq"], b["pseq"])
        self.one(rows, "image_start", target=os.path.join(PROGS, "earlyprog"))
        self.assert_pseq_complete(rows)

    def test_static_binary_blind_spot(self):
        prog = os.path.join(PROGS, "static_hello")
        cp = self.w.run(["/bin/sh", "-c", prog])
        self.assertEqual(cp.stdout, b"hello from a static binary\n")
        rows = self.w.records()
        b = self.one(rows, "blind_spot", target=prog)
        self.assertIn("static", b["detail"]["reason"])
        e = self.one(rows, "exec", target=prog)
        self.assertLess(b["seq"], e["seq"])

    def test_loopback_tcp_connect(self):
        srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        srv.bind(("127.0.0.1", 0))
        srv.listen(1)
        port = srv.getsockname()[1]

        def accept():
            c, _ = srv.accept()
            c.sendall(b"pong")
            c.close()
        t = threading.Thread(target=accept)
        t.start()
        code = ("import socket\n"
                "s = socket.create_connection(('localhost', %d))\n"
                "print(s.recv(4).decode())\n" % port)
        cp = self.w.run([PYTHON, "-c", code])
        t.join(10)
        srv.close()
        self.assertEqual(cp.stdout, b"pong\n")
        rows = self.w.records()
        c = self.by_event(rows, "connect", target="127.0.0.1:%d" % port) or \
            self.by_event(rows, "connect", target="[::1]:%d" % port)
        self.assertTrue(c, dump(rows))
        self.assertEqual(c[-1]["result"], "ok")
        r = self.by_event(rows, "resolve", target="localhost")
        self.assertTrue(r, dump(rows))
        self.assertIn("127.0.0.1", " ".join(r[0]["detail"].get("addresses", [])))

    def test_failed_exec_enoent(self):
        cp = self.w.run(["/bin/sh", "-c", "/nonexistent/prog arg1"], check=False)
        self.assertEqual(cp.returncode, 127)
        rows = self.w.records()
        ex = self.by_event(rows, "exec", target="/nonexistent/prog")
        self.assertEqual([r["result"] for r in ex], ["attempt", "error"], dump(rows))
        self.assertEqual(ex[1]["errno"], "ENOENT")
        self.assertEqual(ex[1]["argv"], ["/nonexistent/prog", "arg1"])
        # And from C code calling execve directly.
        code = ("import os\n"
                "try:\n"
                "    os.execv('/nonexistent/other', ['other'])\n"
                "except OSError as e:\n"
                "    print(e.errno)\n")
        cp = self.w.run([PYTHON, "-c", code])
        self.assertEqual(cp.stdout, b"2\n")
        ex = self.by_event(self.w.records(), "exec", target="/nonexistent/other")
        self.assertEqual([r["result"] for r in ex], ["attempt", "error"])
        self.assertEqual(ex[1]["errno"], "ENOENT")

    def test_file_operations(self):
        script = ("mkdir d && cd d && echo x > a && mv a b && ln b c && ln -s b s "
                  "&& chmod 600 b && truncate -s 1 b && rm c && cd .. && rm -r d")
        self.w.run(["/bin/sh", "-c", script], cwd=self.work)
        rows = self.w.records()
        d = os.path.join(self.work, "d")
        self.one(rows, "mkdir", target=d)
        mv = self.one(rows, "rename", target=os.path.join(d, "b"))
        self.assertEqual(mv["detail"]["from"], os.path.join(d, "a"))
        self.one(rows, "link", target=os.path.join(d, "c"))
        self.one(rows, "symlink", target=os.path.join(d, "s"))
        ch = self.one(rows, "chmod", target=os.path.join(d, "b"))
        self.assertEqual(ch["detail"]["mode"], "0600")
        self.assertTrue(self.by_event(rows, "truncate"))
        self.assertTrue(self.by_event(rows, "unlink", target=os.path.join(d, "c")))
        self.assertTrue(self.by_event(rows, "rmdir", target=d))

    def test_read_only_opens_are_not_recorded(self):
        self.w.run(["/bin/cat", "/etc/hostname", "/etc/passwd"])
        rows = self.w.records()
        self.assertFalse([r for r in rows if r["event"] == "open"
                          and r["target"] in ("/etc/hostname", "/etc/passwd")])


if __name__ == "__main__":
    main()
