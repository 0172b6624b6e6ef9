# SPDX-License-Identifier: MIT
"""Differential transparency (issue 3): real programs and real test suites
run twice, without and with the shim (writer up), in two fresh
directories.  Exit codes, stdout/stderr bytes (the directory name
normalised) and the files produced must be identical; then the records
the shimmed run left are checked."""

import hashlib
import os
import shutil
import subprocess
import unittest

from harness import PROGS, PYTHON, RUNTIME, WriterTest, dump, main

PYTEST_DIR = "/usr/lib/python3.11/test"

MAKEFILE = """\
CC = cc
CFLAGS = -O1
OBJS = a.o b.o c.o d.o main.o
prog: $(OBJS)
\t$(CC) -o $@ $(OBJS)
%.o: %.c defs.h
\t$(CC) $(CFLAGS) -c -o $@ $<
gen.h: prog
\t./prog > gen.h
clean:
\trm -f $(OBJS) prog gen.h
"""

# Python that makes raw system calls through the C library's syscall()
# (what the shim hooks): sysc(NR, ...) returns (result, errno), bytes
# arguments passed as pointers.
SYSCALL_PY = ("import ctypes\n"
              "libc = ctypes.CDLL(None, use_errno=True)\n"
              "libc.syscall.restype = ctypes.c_long\n"
              "def sysc(*a):\n"
              "    r = libc.syscall(*[ctypes.c_char_p(x) if isinstance(x, bytes)\n"
              "                       else ctypes.c_long(x) for x in a])\n"
              "    return r, (ctypes.get_errno() if r < 0 else 0)\n")


def plain_env(extra=None):
    env = dict(os.environ)
    for k in ("LD_PRELOAD", "AUDITSHIM_SOCKET", "AUDITSHIM_AGENT"):
        env.pop(k, None)
    if RUNTIME:
        env["ASAN_OPTIONS"] = "detect_leaks=0:verify_asan_link_order=0"
    env.update(extra or {})
    return env


def tree(d, skip=()):
    """{relative path: (type, mode, content digest or link text)}."""
    out = {}
    for root, dirs, files in os.walk(d):
        dirs[:] = sorted(x for x in dirs if x not in skip)
        for name in sorted(dirs) + sorted(files):
            p = os.path.join(root, name)
            rel = os.path.relpath(p, d)
            st = os.lstat(p)
            if os.path.islink(p):
                out[rel] = ("l", os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ("d", st.st_mode & 0o7777)
            else:
                with open(p, "rb") as f:
                    h = hashlib.sha256(f.read()).hexdigest()
                out[rel] = ("f", st.st_mode & 0o7777, h)
    return out


class Differential(WriterTest):

    def both(self, script, name, setup=None, env_extra=None, timeout=300,
             argv=None):
        """Runs SCRIPT (sh -c) or ARGV in NAME-plain and NAME-shim;
        returns [(CompletedProcess, dir)] with outputs normalised."""
        res = []
        for mode in ("plain", "shim"):
            d = os.path.join(self.work, name + "-" + mode)
            os.mkdir(d)
            if setup:
                setup(d)
            env = plain_env(dict(env_extra or {}, HOME=d))
            if mode == "shim":
                env = self.w.env(env)
            cp = subprocess.run(argv or ["/bin/sh", "-c", script], cwd=d,
                                env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE,
                                stdin=subprocess.DEVNULL, timeout=timeout)
            cp.stdout = cp.stdout.replace(d.encode(), b"<DIR>")
            cp.stderr = cp.stderr.replace(d.encode(), b"<DIR>")
            res.append((cp, d))
        return res

    def same(self, res, skip=(), files=True):
        (a, da), (b, db) = res
        self.assertEqual(a.returncode, b.returncode, (a.stderr, b.stderr))
        self.assertEqual(a.stdout, b.stdout)
        self.assertEqual(a.stderr, b.stderr)
        if files:
            self.assertEqual(tree(da, skip), tree(db, skip))
        return b

    def test_git_workflow(self):
        if not shutil.which("git"):
            self.skipTest("git not installed")
        script = r"""
set -e
git init -q -b main repo
cd repo
git config user.email agent@example.org
git config user.name Agent
printf 'one\n' > a.txt
mkdir sub; printf 'two\n' > sub/b.txt
git add -A
git commit -q -m first
git checkout -q -b feature
printf 'three\n' >> a.txt
git commit -q -am second
git checkout -q main
git merge -q --no-edit feature
git branch
git log --format='%H %s'
git status --porcelain
cd ..
git clone -q repo clone
git -C clone log --oneline | wc -l
"""
        dates = {"GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
                 "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"}
        res = self.both(script, "git", env_extra=dates)
        b = self.same(res, skip=(".git",))
        self.assertIn(b"* main", b.stdout)
        rows = self.w.records()
        git = [r for r in rows if r["event"] == "image_start" and
               (r["target"] or "").endswith("/git")]
        self.assertGreaterEqual(len(git), 10, dump(rows))
        d = res[1][1]
        self.assertTrue([r for r in rows if r["event"] == "rename" and
                         r["target"] == os.path.join(d, "repo", ".git", "index")])
        self.assertTrue([r for r in rows if r["event"] == "open" and
                         r["target"] == os.path.join(d, "repo", "a.txt")])
        self.assert_pseq_complete(rows)

    def test_make_j2(self):
        if not shutil.which("make"):
            self.skipTest("make not installed")

        def setup(d):
            with open(os.path.join(d, "Makefile"), "w") as f:
                f.write(MAKEFILE)
            with open(os.path.join(d, "defs.h"), "w") as f:
                f.write("int fa(void); int fb(void); int fc(void); int fd(void);\n")
            for n, v in zip("abcd", (1, 2, 3, 4)):
                with open(os.path.join(d, n + ".c"), "w") as f:
                    f.write('#include "defs.h"\nint f%s(void) { return %d; }\n' % (n, v))
            with open(os.path.join(d, "main.c"), "w") as f:
                f.write('#include <stdio.h>\n#include "defs.h"\n'
                        'int main(void) { printf("#define SUM %d\\n", '
                        'fa() + fb() + fc() + fd()); return 0; }\n')

        res = self.both("make -s -j2 gen.h && cat gen.h && make -s clean && ls",
                        "make", setup=setup)
        b = self.same(res)
        self.assertIn(b"#define SUM 10", b.stdout)
        rows = self.w.records()
        d = res[1][1]
        # Compilers write through fopen: every object file is seen.
        for n in "abcd":
            self.assertTrue([r for r in rows if r["event"] == "open" and
                             r["target"] == os.path.join(d, n + ".o")],
                            "%s.o\n%s" % (n, dump(rows, 400)))
        self.assertTrue([r for r in rows if r["event"] == "spawn" or
                         (r["event"] == "exec" and (r["target"] or "").endswith("/cc"))])
        self.assertTrue([r for r in rows if r["event"] == "unlink" and
                         r["target"] == os.path.join(d, "prog")])
        self.assert_pseq_complete(rows)

    def test_tar_create_and_extract(self):
        def setup(d):
            src = os.path.join(d, "src")
            for i in range(20):
                sub = os.path.join(src, "d%02d" % i)
                os.makedirs(sub)
                for j in range(10):
                    with open(os.path.join(sub, "f%d" % j), "w") as f:
                        f.write("file %d %d\n" % (i, j) * (j + 1))
            os.symlink("d00/f0", os.path.join(src, "link"))

        script = ("tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner "
                  "-cf a.tar src && mkdir out && tar -xf a.tar -C out && "
                  "tar -tvf a.tar | wc -l && sha256sum a.tar | cut -c1-16")
        res = self.both(script, "tar", setup=setup)
        self.same(res)
        rows = self.w.records()
        d = res[1][1]
        opens = [r for r in rows if r["event"] == "open" and
                 (r["target"] or "").startswith(os.path.join(d, "out") + "/")]
        self.assertEqual(len(opens), 200, dump(rows[:20]))
        self.assert_pseq_complete(rows)

    def test_bash_high_descriptor(self):
        if not shutil.which("bash"):
            self.skipTest("bash not installed")
        script = ("exec 1000>high.txt; echo via-1000 >&1000; exec 1000>&-; "
                  "exec 900>other.txt 901>&900; echo a >&901; "
                  "ls /proc/self/fd | sort -n | tr '\\n' ' '; echo; cat high.txt other.txt")
        # The descriptors a child (ls) sees are the same: the shell's own
        # connection to the writer is close-on-exec.
        res = self.both(None, "bash", argv=["bash", "-c", script])
        b = self.same(res)
        self.assertIn(b"via-1000", b.stdout)
        self.assertTrue(b.stdout.startswith(b"0 1 2 3 900 901 \n"), b.stdout)

    def test_bash_redirect_onto_the_shims_own_descriptor(self):
        # Aim at the shim's socket on purpose: bash's fcntl(N, F_GETFD)
        # must find N free (the socket steps aside), or bash takes N for
        # one of its own saved descriptors and undoes `exec N>file`.
        if not shutil.which("bash"):
            self.skipTest("bash not installed")
        script = (": > warm.txt; "
                  "n=$(ls -l /proc/$$/fd | awk '/socket:/ {print $9}' | sort -n | tail -1); "
                  "[ -n \"$n\" ] || { echo no-socket; exit 3; }; "
                  "eval \"exec $n>aimed.txt\"; eval \"echo via-ours >&$n\"; "
                  "ls /proc/self/fd | grep -qx \"$n\" && echo child-sees-it; "
                  "eval \"exec $n>&-\"; : > after.txt; cat aimed.txt")
        d = os.path.join(self.work, "aim")
        os.mkdir(d)
        cp = subprocess.run(["bash", "-c", script], cwd=d,
                            env=self.w.env(plain_env()), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(cp.stdout, b"child-sees-it\nvia-ours\n", cp.stderr)
        self.assertEqual(cp.stderr, b"")
        # The shim kept recording after the program took its number.
        rows = self.w.records()
        self.assertTrue([r for r in rows if r["event"] == "open" and
                         r["target"] == os.path.join(d, "after.txt")], dump(rows, 50))
        self.assert_pseq_complete(rows)

    def test_raw_syscalls_aimed_at_the_shims_descriptor(self):
        # syscall(2) reaches the kernel without glibc's dup2/fcntl, which
        # hook_fd.c covers: the socket must step aside here too.  fcntl on
        # its number finds it free (EBADF), F_DUPFD from it gets exactly
        # it, dup3 onto the socket's next number lands there, and the shim
        # records on (x86-64 numbers: fcntl 72, dup3 292).
        prog = (SYSCALL_PY +
                "import os\n"
                "def ours():\n"
                "    fds = [int(f) for f in os.listdir('/proc/self/fd')]\n"
                "    s = [f for f in fds if os.path.exists('/proc/self/fd/%d' % f)\n"
                "         and os.readlink('/proc/self/fd/%d' % f).startswith('socket:')]\n"
                "    return max(s)\n"
                "open('warm.txt', 'w').close()\n"
                "n = ours()\n"
                "print('getfd', sysc(72, n, 1))\n"
                "print('dupfd', sysc(72, 0, 0, n) == (n, 0))\n"
                "open('second.txt', 'w').close()\n"
                "m = ours()\n"
                "fd = os.open('aimed.txt', os.O_WRONLY | os.O_CREAT, 0o644)\n"
                "print('dup3', sysc(292, fd, m, 0) == (m, 0))\n"
                "os.write(m, b'via-dup3\\n')\n"
                "open('after.txt', 'w').close()\n"
                "print(open('aimed.txt').read().strip())\n")
        d = os.path.join(self.work, "rawaim")
        os.mkdir(d)
        cp = subprocess.run([PYTHON, "-c", prog], cwd=d,
                            env=self.w.env(plain_env()), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        self.assertEqual(cp.stdout, b"getfd (-1, 9)\ndupfd True\ndup3 True\nvia-dup3\n",
                         cp.stderr)
        rows = self.w.records()
        self.assertTrue([r for r in rows if r["event"] == "open" and
                         r["target"] == os.path.join(d, "after.txt")], dump(rows, 50))
        self.assert_pseq_complete(rows)

    def test_descriptor_exhaustion_fails_where_plain_fails(self):
        # The program gets the descriptor our socket held: it runs out at
        # the same count as without the shim, and nothing is lost silently.
        # The same through syscall(2), which glibc does not route through
        # the functions above (x86-64 numbers: openat, dup, pipe2).
        # After giving up its socket the shim waits 50 ms before it connects
        # again, queueing meanwhile (64 records); the pauses keep the two
        # bursts of recorded opens from overflowing that queue into a gap.
        prog = (SYSCALL_PY +
                "import os, resource, time\n"
                "def sysfd(*a):\n"
                "    r, e = sysc(*a)\n"
                "    if r < 0:\n"
                "        raise OSError(e, 'syscall')\n"
                "    return r\n"
                "def sys_pipe2(i):\n"
                "    p = (ctypes.c_int * 2)()\n"
                "    sysfd(293, ctypes.addressof(p), 0)\n"
                "    return (p[0], p[1])\n"
                "resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))\n"
                "kinds = [('open-w', lambda i: os.open('f%d' % i, os.O_WRONLY | os.O_CREAT, 0o644)),\n"
                "         ('open-r', lambda i: os.open('/dev/null', os.O_RDONLY)),\n"
                "         ('pipe', lambda i: os.pipe()), ('dup', lambda i: os.dup(0)),\n"
                "         ('sys-openat-w', lambda i: sysfd(257, -100, b's%d' % i, os.O_WRONLY | os.O_CREAT, 0o644)),\n"
                "         ('sys-openat-r', lambda i: sysfd(257, -100, b'/dev/null', os.O_RDONLY)),\n"
                "         ('sys-dup', lambda i: sysfd(32, 0)), ('sys-pipe2', sys_pipe2)]\n"
                "for name, k in kinds:\n"
                "    got = []\n"
                "    while True:\n"
                "        try:\n"
                "            r = k(len(got))\n"
                "        except OSError as e:\n"
                "            print(name, len(got), e.errno)\n"
                "            break\n"
                "        got += list(r) if isinstance(r, tuple) else [r]\n"
                "    for fd in got:\n"
                "        os.close(fd)\n"
                "    time.sleep(0.2)\n"
                "open('done.txt', 'w').write('ok')\n")
        res = self.both(None, "emfile", argv=[PYTHON, "-c", prog])
        b = self.same(res)
        self.assertEqual(len(b.stdout.splitlines()), 8, b.stdout)
        rows = self.w.records()
        d = res[1][1]
        self.assertTrue([r for r in rows if r["event"] == "open" and
                         r["target"] == os.path.join(d, "done.txt")], dump(rows, 50))
        # The records that waited for a free descriptor arrived in order.
        made = [r for r in rows if r["event"] == "open" and r["result"] == "ok"
                and os.path.dirname(r["target"] or "") == d
                and os.path.basename(r["target"]).startswith("f")]
        self.assertEqual(len(made), int(b.stdout.split()[1]), dump(rows, 50))
        self.assert_pseq_complete(rows)

    def test_node_child_process_and_fs(self):
        node = shutil.which("node")
        if not node:
            self.skipTest("node not installed")
        js = r"""
const cp = require('child_process'), fs = require('fs');
fs.writeFileSync('n1.txt', 'hello\n');
fs.mkdirSync('nd');
fs.renameSync('n1.txt', 'nd/n2.txt');
const r = cp.spawnSync('/bin/sh', ['-c', 'cat nd/n2.txt; echo $#'], {env: {}});
process.stdout.write(r.stdout);
console.log(cp.execFileSync('ls', ['nd']).toString().trim());
fs.promises.writeFile('n3.txt', 'async\n').then(() => console.log('done'));
"""
        res = self.both(None, "node", argv=[node, "-e", js])
        self.same(res)
        rows = self.w.records()
        d = res[1][1]
        self.assertTrue([r for r in rows if r["event"] == "rename" and
                         r["target"] == os.path.join(d, "nd", "n2.txt")], dump(rows))
        # The child started with {} as its environment is still observed.
        self.assertTrue([r for r in rows if r["event"] == "image_start" and
                         r["argv"] and r["argv"][:2] == ["/bin/sh", "-c"]], dump(rows))

    def test_java_processbuilder_cleared_environment(self):
        java = shutil.which("java")
        if not java or RUNTIME:
            self.skipTest("java not installed (or sanitizer run)")
        src = r"""
public class Pb {
    public static void main(String[] a) throws Exception {
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", "-c", "echo child; env | sort");
        pb.environment().clear();
        pb.redirectErrorStream(true);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes());
        System.out.print(out);
        System.out.println("exit " + p.waitFor());
    }
}
"""

        def setup(d):
            with open(os.path.join(d, "Pb.java"), "w") as f:
                f.write(src)

        res = self.both(None, "java", setup=setup, argv=[java, "Pb.java"])
        (a, _), (b, _) = res
        self.assertEqual((a.returncode, a.stderr), (b.returncode, b.stderr))
        strip = lambda s: [l for l in s.decode().splitlines()
                           if not l.startswith(("LD_PRELOAD=", "AUDITSHIM_"))]
        self.assertEqual(strip(a.stdout), strip(b.stdout))
        # Exactly the preload (and the non-default socket) was put back.
        added = sorted(set(b.stdout.decode().splitlines()) -
                       set(a.stdout.decode().splitlines()))
        self.assertEqual([l.split("=")[0] for l in added],
                         ["AUDITSHIM_SOCKET", "LD_PRELOAD"])
        rows = self.w.records()
        self.assertTrue([r for r in rows if r["event"] == "image_start" and
                         r["argv"] and r["argv"][:2] == ["/bin/sh", "-c"]], dump(rows))

    def cpython_suite(self, name, tests):
        if not os.path.exists(os.path.join(PYTEST_DIR, name + ".py")):
            self.skipTest("CPython test suite not installed "
                          "(Debian: libpython3.11-testsuite)")
        res = self.both(None, name, argv=[PYTHON, "-m", "unittest", "-q"] +
                        ["test.%s.%s" % (name, t) for t in tests],
                        timeout=600)
        (a, _), (b, _) = res
        self.assertEqual(a.returncode, b.returncode, b.stderr[-3000:])
        self.assertEqual(a.returncode, 0, a.stderr[-3000:])
        # Timings differ; the verdict line and the count must not.
        tail = lambda cp: [l for l in cp.stderr.decode().splitlines()
                           if l.startswith(("Ran ", "OK", "FAILED"))]
        self.assertEqual([l.split(" in ")[0] for l in tail(a)],
                         [l.split(" in ")[0] for l in tail(b)])
        self.assertEqual(a.stdout, b.stdout)
        rows = self.w.records(settle=True)
        self.assertTrue([r for r in rows if r["event"] in ("spawn", "exec")])
        self.assert_pseq_complete(rows)

    def test_cpython_test_subprocess(self):
        self.cpython_suite("test_subprocess",
                           ["POSIXProcessTestCase", "ProcessTestCase"])

    def test_cpython_test_os(self):
        self.cpython_suite("test_os",
                           ["WalkTests", "MakedirTests", "RemoveDirsTests",
                            "FileTests", "ExecTests", "SpawnTests", "ForkTests",
                            "TestScandir", "MiscTests"])


if __name__ == "__main__":
    main()
