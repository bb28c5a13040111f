# SPDX-License-Identifier: BSD-3-Clause
# test_docs.py: runs every ```console example of README.md and docs/*.md against the example registry.
"""The manual's examples, executed (cram style).

Every ```console block in README.md and docs/*.md is run, a file at a time, in
the order of the file, against one srvd the test starts on 127.0.0.1 with
`./dev serve`'s registry (zones/example.yaml and example.zone, copied to a
temporary folder) and its three demo backends. Examples the test does not run
use ```sh (commands alone) or ```text (commands and output).

In a console block:

- `$ COMMAND` is a command; a line ending in `\\` continues on the next one.
  Commands are `dig`, `curl`, `srvctl`, `srvd -t` (and `echo $?`, `grep`,
  `sleep`, `python3` between them), run by bash in a folder holding the files
  of tests/system/data/docs/ (such as bad.yaml), with stdout and stderr
  together; `$?` is the previous command's status.
- the lines up to the next `$ ` are the expected output, compared line by line;
- `LINE (re)`: LINE is a Python regular expression the whole output line must
  match (serials, ages, counters, message ids, the host name);
- `LINE (unordered)`: consecutive lines so marked match the same lines in any
  order (what a `random`, `weighted` or `round-robin` policy shuffles).

What the test changes so the examples can run side by side with others: srvd
listens on a port the kernel picks and the API on a free port; the commands'
`-p 5353`, `127.0.0.1:8053` and `$API` point there (srvctl through
$SRVD_API), and those ports are written back as 5353 and 8053 in the output.
The web service's checks go to the demo backends on a free port (the
instances' own ports, 8080 and 8081, stay in the answers). Nothing leaves
127.0.0.0/8 and ::1: the example's other instances are `check: {type: none}`.
docs/development.md says the same for writers of the manual.
"""

import glob
import os
import re
import shlex
import shutil
import socket
import subprocess
import sys

import dns.message
import dns.query
import pytest

from conftest import HOST, SLOW, SRCDIR, SRVD, Srvd, free_port, wait_until

PAGES = ["README.md"] + sorted(os.path.relpath(p, SRCDIR)
                               for p in glob.glob(os.path.join(SRCDIR, "docs", "*.md")))
FIXTURES = os.path.join(SRCDIR, "tests", "system", "data", "docs")
DOC_DNS, DOC_HTTP = "5353", "8053"
RUNS = ("dig", "curl", "srvctl", "srvd", "echo")
BACKENDS = ("127.0.0.11", "127.0.0.12", "::1")


def console_blocks(path):
    """[(line number, [block lines])] of the ```console blocks of path."""
    blocks, cur, start = [], None, 0
    with open(path) as f:
        for n, line in enumerate(f, 1):
            line = line.rstrip("\n")
            if cur is None:
                if line.strip() == "```console":
                    cur, start = [], n + 1
            elif line.startswith("```"):
                blocks.append((start, cur))
                cur = None
            else:
                cur.append(line)
    assert cur is None, "%s: ```console block at line %d is not closed" % (path, start)
    return blocks


def examples(path):
    """[(line number, command, [expected lines])] of every console block of path."""
    out = []
    for start, lines in console_blocks(path):
        i = 0
        while i < len(lines):
            line = lines[i]
            assert line.startswith("$ "), (
                "%s:%d: a console block starts with `$ COMMAND` (use ```text or ```sh for "
                "examples the test does not run)" % (path, start + i))
            at, cmd = start + i, line[2:]
            while cmd.endswith("\\") and i + 1 < len(lines):
                i += 1
                cmd = cmd + "\n" + lines[i]
            i += 1
            want = []
            while i < len(lines) and not lines[i].startswith("$ "):
                want.append(lines[i])
                i += 1
            out.append((at, cmd, want))
    return out


def check_command(path, at, cmd):
    """The examples run only the tools the manual documents, against srvd."""
    lex = shlex.shlex(cmd.replace("\\\n", " "), posix=True, punctuation_chars=True)
    words, first, target = list(lex), True, False
    for i, w in enumerate(words):
        if target:  # the file of a redirection
            target = False
            continue
        if set(w) <= set("<>&") and ">" in w or w == "<":
            target = True
            continue
        if set(w) <= set(";&|()"):
            first = True
            continue
        if first and w not in ("grep", "python3", "sleep"):
            assert w in RUNS, (
                "%s:%d: `%s` is not run by test_docs.py (dig, curl, srvctl, srvd -t); make the "
                "block ```text or ```sh" % (path, at, w))
            if w == "srvd":
                assert "-t" in words[i:], "%s:%d: only `srvd -t` is run" % (path, at)
        first = False


def matches(want, got):
    """None when the output lines got satisfy the expected lines want, else why not."""
    if len(want) != len(got):
        return "%d lines expected, %d printed" % (len(want), len(got))
    i = 0
    while i < len(want):
        if want[i].endswith(" (unordered)"):
            j = i
            while j < len(want) and want[j].endswith(" (unordered)"):
                j += 1
            exp = sorted(w[:-len(" (unordered)")] for w in want[i:j])
            if exp != sorted(got[i:j]):
                return "lines %d-%d: %r is not an order of %r" % (i + 1, j, got[i:j], exp)
            i = j
            continue
        if want[i].endswith(" (re)"):
            if not re.fullmatch(want[i][:-len(" (re)")], got[i]):
                return "line %d: %r does not match %r" % (i + 1, got[i], want[i])
        elif want[i] != got[i]:
            return "line %d: %r, expected %r" % (i + 1, got[i], want[i])
        i += 1
    return None


def example_registry(folder, http_port, check_port):
    """zones/example.yaml in folder with the API on http_port and the web checks on
    check_port; returns its path."""
    with open(os.path.join(SRCDIR, "zones", "example.yaml")) as f:
        text = f.read()
    for old, new in (("http: 127.0.0.1:%s" % DOC_HTTP, "http: 127.0.0.1:%d" % http_port),
                     ("check: {type: http, path: /healthz,",
                      "check: {type: http, port: %d, path: /healthz," % check_port)):
        assert old in text, "zones/example.yaml lost %r" % old
        text = text.replace(old, new)
    shutil.copy(os.path.join(SRCDIR, "zones", "example.zone"), folder)
    os.mkdir(os.path.join(folder, "services.d"))
    path = os.path.join(folder, "srvd.yaml")
    with open(path, "w") as f:
        f.write(text)
    return path


def bindable(port):
    for addr in BACKENDS:
        fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
        with socket.socket(fam, socket.SOCK_STREAM) as s:
            try:
                s.bind((addr, port))
            except OSError:
                return False
    return True


@pytest.fixture
def backends(tmp_path):
    """The demo backends of `./dev serve` (zones/demo: /healthz) on a port free on all
    three addresses; yields the port."""
    for _ in range(20):
        port = free_port()
        if bindable(port):
            break
    else:
        pytest.fail("no port free on %s" % ", ".join(BACKENDS))
    procs = [subprocess.Popen([sys.executable, "-m", "http.server", "--bind", addr,
                               "--directory", os.path.join(SRCDIR, "zones", "demo"), str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
             for addr in BACKENDS]
    try:
        yield port
    finally:
        for p in procs:
            p.terminate()
            p.wait(10)


def health_txt(d, name):
    q = dns.message.make_query(name, "TXT")
    try:
        r = dns.query.udp(q, HOST, port=d.port, timeout=1)
    except Exception:  # noqa: BLE001 - not answering yet
        return ""
    return " ".join(s.decode() for rrset in r.answer for rd in rrset for s in rd.strings)


def run_example(cmd, cwd, env, dns_port, http_port, status):
    """Runs cmd as the reader would, after a command that exited with status (for
    `echo $?`); returns its output lines and exit status."""
    cmd = "(exit %d); " % status + (cmd.replace("-p %s" % DOC_DNS, "-p %d" % dns_port)
           .replace("127.0.0.1:%s" % DOC_HTTP, "127.0.0.1:%d" % http_port))
    p = subprocess.run(["bash", "-c", cmd], cwd=cwd, env=env, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=60 * SLOW)
    out = re.sub(r"(?<=[#:])%d\b" % dns_port, DOC_DNS, p.stdout)
    out = re.sub(r"(?<=[#:])%d\b" % http_port, DOC_HTTP, out)
    return out.splitlines(), p.returncode


@pytest.mark.parametrize("page", PAGES)
def test_console_examples(page, tmp_path, backends):
    path = os.path.join(SRCDIR, page)
    runs = examples(path)
    if not runs:
        pytest.skip("%s has no console examples" % page)
    for at, cmd, _ in runs:
        check_command(page, at, cmd)
    http_port = free_port()
    conf = example_registry(str(tmp_path), http_port, backends)
    d = Srvd(conf, "svc.example.").start()
    # as `./dev serve` once its backends answer: every web instance passing
    wait_until(lambda: "passing=3/3" in health_txt(d, "_health.web.svc.example."),
               15 * SLOW, "the web instances passing", d)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    for f in glob.glob(os.path.join(FIXTURES, "*")):
        shutil.copy(f, cwd)
    bindir = os.path.dirname(os.path.abspath(SRVD))
    api = "http://127.0.0.1:%d" % http_port
    env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", ""), API=api,
               SRVD_API=api, LC_ALL="C")
    env.pop("SRVD_TOKEN_FILE", None)
    failures, status = [], 0
    for at, cmd, want in runs:
        got, status = run_example(cmd, str(cwd), env, d.port, http_port, status)
        why = matches(want, got)
        if why:
            failures.append("%s:%d: $ %s\n  %s\n  printed:\n%s" % (
                page, at, cmd, why, "\n".join("    " + g for g in got)))
    d.stop()
    assert not failures, "\n".join(failures)


# The sections of README.md before the manual existed (issue 20): each is a heading of
# some docs/*.md page, so moving the README into docs/ lost none of them.
OLD_README_SECTIONS = [
    "Quick start", "Command line", "The registry", "Names and answers",
    "Failover, locality and sticky answers", "More answers",
    "Dual-stack instances: `address: [V4, V6]`", "PTR: `server.reverse`", "Named ports: `ports:`",
    "Metadata: `meta:`", "Empty services: `empty: nxdomain`", "Three ways to use srvd",
    "1. As the resolver of a container or a host", "2. Behind CoreDNS, unbound or dnsmasq",
    "3. Debugging with dig", "Forwarding names outside srvd's zones (`server.forward`)",
    "As a container's resolver (glibc)", "Health checks", "Check types: https, tls, grpc, dns, exec",
    "Heartbeats: the ttl check", "Drain and maintenance", "Benchmark: the health checker",
    "Reloading", "The control API", "srvctl", "Discovery over HTTP",
    "Waiting for a change: blocking queries and the event stream", "HAProxy",
    "Prometheus: `GET /v1/sd/prometheus`", "Consul-compatible reads", "Metrics", "Status page",
    "Performance", "Changes", "Running many servers", "NSD as a secondary", "Knot as a secondary",
    "What a secondary serves", "Serials", "NOTIFY", "Signing transfers and NOTIFY with TSIG",
    "Running a fleet", "Running it on port 53", "Running as root: `server.user`",
    "Files others could write are refused as root", "Faults: what srvd does when things break",
    "Rate limiting and amplification", "Hostile input: how srvd is tested against it", "Limits",
    "Installing", "Containers: Dockerfile and compose", "Logs", "Layout",
]


def headings(path):
    """The markdown headings of path, outside code blocks."""
    out, fence = [], False
    with open(path) as f:
        for line in f:
            if line.startswith("```"):
                fence = not fence
            elif not fence and re.match(r"#+ ", line):
                out.append(line.split(" ", 1)[1].strip())
    assert not fence, "%s: a code block is not closed" % path
    return out


def test_manual_keeps_every_readme_section():
    found = {}
    for page in PAGES[1:]:
        for h in headings(os.path.join(SRCDIR, page)):
            found.setdefault(h, page)
    missing = [h for h in OLD_README_SECTIONS if h not in found]
    assert not missing, "sections of the old README in no docs/*.md heading: %r" % missing


def test_links_resolve_and_readme_lists_every_page():
    """Relative links and images of README.md and docs/ point at files that exist (and
    #anchors at headings there); README.md's contents link every docs/*.md page."""
    bad = []
    for page in PAGES:
        base = os.path.dirname(os.path.join(SRCDIR, page))
        with open(os.path.join(SRCDIR, page)) as f:
            text = f.read()
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if re.match(r"[a-z]+:", target):
                continue
            file, _, anchor = target.partition("#")
            dest = os.path.normpath(os.path.join(base, file)) if file else os.path.join(SRCDIR, page)
            if not os.path.exists(dest):
                bad.append("%s: %s: no such file" % (page, target))
            elif anchor and dest.endswith(".md"):
                slugs = [re.sub(r"[^a-z0-9 _-]", "", h.lower()).replace(" ", "-")
                         for h in headings(dest)]
                if anchor not in slugs:
                    bad.append("%s: %s: no such heading" % (page, target))
    with open(os.path.join(SRCDIR, "README.md")) as f:
        readme = f.read()
    for page in PAGES[1:]:
        if "](%s)" % page not in readme:
            bad.append("README.md does not link %s" % page)
    assert not bad, "\n".join(bad)
