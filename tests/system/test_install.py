# SPDX-License-Identifier: BSD-3-Clause
# test_install.py: `srvd --version`, and `make install` into a DESTDIR: binary, man pages,
# example registry, systemd unit; then uninstall.
"""The installed daemon: what `make install DESTDIR=...` puts where, and that it works.

The build folder is the one SRVD was built in (its Makefile is beside it). The install
goes into a temporary DESTDIR only; nothing outside it is written.
"""

import ipaddress
import os
import re
import shutil
import subprocess

import pytest

from conftest import SRCDIR, SRVD, run_srvd

BUILDDIR = os.path.dirname(os.path.abspath(SRVD))
DEFAULT_RE = re.compile(r"registry YAML \(default (\S+)\)")


def make(*args):
    """Runs make in the build folder, outside any make that runs the tests (its jobserver
    descriptors are not ours)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
    p = subprocess.run(["make", "-C", BUILDDIR, "-s"] + list(args), env=env,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=300)
    assert p.returncode == 0, "make %s failed:\n%s" % (" ".join(args), p.stdout)
    return p.stdout


def package_version():
    with open(os.path.join(SRCDIR, "configure.ac")) as f:
        m = re.search(r"AC_INIT\(\[srvd\], \[([^\]]+)\]", f.read())
    assert m, "no AC_INIT in configure.ac"
    return m.group(1)


def test_version_names_srvd_and_libraries():
    p = run_srvd(["--version"])
    assert p.returncode == 0 and p.stderr == ""
    lines = p.stdout.splitlines()
    assert lines[0] == "srvd " + package_version()
    assert re.fullmatch(r"ldns \d+\.\d+\.\d+\S*, libevent \d+\.\d+\.\d+\S*, "
                        r"libyaml \d+\.\d+\.\d+\S*", lines[1]), p.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """make install DESTDIR=tmp; yields (destdir, the installed binary, its default config
    path without DESTDIR)."""
    dest = str(tmp_path_factory.mktemp("destdir"))
    make("install", "DESTDIR=" + dest)
    found = [os.path.join(root, "srvd") for root, _, files in os.walk(dest)
             if "srvd" in files and os.path.basename(root) == "sbin"]
    assert len(found) == 1, "installed srvd: %r" % found
    p = run_srvd(["-h"])
    m = DEFAULT_RE.search(p.stdout)
    assert m, p.stdout
    yield dest, found[0], m.group(1)
    shutil.rmtree(dest, ignore_errors=True)


def under(dest, path):
    return os.path.join(dest, path.lstrip("/"))


def test_installed_binary_checks_the_installed_example(installed):
    dest, binary, config = installed
    conf = under(dest, config)
    assert os.path.isfile(conf), "no registry at the binary's default path %s" % conf
    confdir = os.path.dirname(conf)
    assert os.path.isfile(os.path.join(confdir, "example.zone"))
    assert os.path.isdir(os.path.join(confdir, "services.d"))
    for args in (["--version"], ["-t", conf]):
        p = subprocess.run([binary] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True, timeout=30)
        assert p.returncode == 0, (args, p.stdout, p.stderr)
    assert p.stdout == conf + ": ok\n"
    # the installed binary is the one just built
    assert subprocess.run([binary, "--version"], stdout=subprocess.PIPE, text=True).stdout == \
        run_srvd(["--version"]).stdout


def test_installed_example_checks_only_loopback(installed):
    """Instances of services with a health check are on loopback: starting the example
    probes nothing beyond the machine."""
    dest, _, config = installed
    service, unchecked, seen = None, {}, []
    with open(under(dest, config)) as f:
        in_services = False
        for line in f:
            line = line.split("#", 1)[0].rstrip()
            if re.match(r"^\S", line):
                in_services = line.startswith("services:")
                continue
            m = re.match(r"^  ([a-z0-9-]+):$", line)
            if in_services and m:
                service = m.group(1)
                unchecked[service] = False
            if in_services and re.search(r"check: \{type: none", line):
                unchecked[service] = True
            m = re.search(r"address: \"?([0-9a-fA-F:.]+)\"?[,}]", line)
            if in_services and m:
                seen.append((service, ipaddress.ip_address(m.group(1))))
    assert seen and any(not unchecked[s] for s, _ in seen)
    for s, addr in seen:
        assert unchecked[s] or addr.is_loopback, "%s: %s is checked but not loopback" % (s, addr)


@pytest.mark.parametrize("page", ["man8/srvd.8", "man5/srvd.yaml.5", "man1/srvctl.1"])
def test_man_pages_render_without_warnings(installed, page):
    dest = installed[0]
    found = [os.path.join(root, os.path.basename(page)) for root, _, files in os.walk(dest)
             if os.path.basename(page) in files and root.endswith(os.path.dirname(page))]
    assert len(found) == 1, "installed %s: %r" % (page, found)
    p = subprocess.run(["groff", "-man", "-ww", "-z", found[0]], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout == "", p.stdout
    env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8")
    p = subprocess.run(["man", "--warnings", "-l", found[0]], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=30, env=env)
    assert p.returncode == 0 and p.stderr == "", p.stderr
    assert re.search(r"^NAME\n\s+srv(d|ctl)\b", p.stdout, re.M), p.stdout[:500]


def test_srvctl_installed_beside_srvd(installed):
    """srvctl, the API's command-line client, goes where srvd goes and runs."""
    ctl = os.path.join(os.path.dirname(installed[1]), "srvctl")
    assert os.access(ctl, os.X_OK), os.listdir(os.path.dirname(installed[1]))
    p = subprocess.run([ctl, "--version"], stdout=subprocess.PIPE, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout.startswith("srvctl "), p.stdout


def test_man_page_lists_every_schema_key(installed):
    """srvd.yaml(5) documents every server key the loader accepts (README's table is the
    source of the keys a user meets first; the man page must not fall behind it)."""
    dest = installed[0]
    page = [os.path.join(r, "srvd.yaml.5") for r, _, fs in os.walk(dest) if "srvd.yaml.5" in fs]
    text = open(page[0]).read()
    with open(os.path.join(SRCDIR, "registry", "tables.c")) as f:
        keys = re.findall(r'\{\.key = "([a-z_0-9]+)"', f.read())
    assert "log_queries" in keys and "syslog" in keys
    missing = [k for k in set(keys) if not re.search(r"\b%s\b" % re.escape(k), text)]
    assert not missing, "keys missing from srvd.yaml.5: %s" % sorted(missing)


def test_systemd_unit(installed):
    dest, binary, config = installed
    units = [os.path.join(r, "srvd.service") for r, _, fs in os.walk(dest) if "srvd.service" in fs]
    assert len(units) == 1 and "/lib/systemd/system/" in units[0], units
    text = open(units[0]).read()
    sbin = "/" + os.path.relpath(binary, dest)
    confdir = os.path.dirname(config)
    want = {
        "Type": "simple",
        "ExecStart": "%s -c %s" % (sbin, config),
        "ExecReload": "/bin/kill -HUP $MAINPID",
        "Restart": "on-failure",
        "AmbientCapabilities": "CAP_NET_BIND_SERVICE",
        "CapabilityBoundingSet": "CAP_NET_BIND_SERVICE",
        "DynamicUser": "yes",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ReadWritePaths": "-%s/services.d" % confdir,
    }
    got = dict(re.findall(r"^(\w+)=(.*)$", text, re.M))
    for k, v in want.items():
        assert got.get(k) == v, "%s=%r, want %r" % (k, got.get(k), v)
    assert not re.search(r"@[a-z]+@", text), "unsubstituted @var@ in:\n" + text
    # systemd's own parser accepts it (ExecStart must exist: point it into DESTDIR)
    local = os.path.join(dest, "verify.service")
    with open(local, "w") as f:
        f.write(text.replace(sbin, binary))
    p = subprocess.run(["systemd-analyze", "verify", "--man=no", local],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=60)
    os.unlink(local)
    assert p.returncode == 0 and p.stdout.strip() == "", p.stdout


def test_reinstall_keeps_edits_and_uninstall_removes_the_rest(tmp_path):
    dest = str(tmp_path / "d")
    make("install", "DESTDIR=" + dest)
    confs = [os.path.join(r, "srvd.yaml") for r, _, fs in os.walk(dest) if "srvd.yaml" in fs]
    assert len(confs) == 1
    with open(confs[0], "a") as f:
        f.write("# edited by the operator\n")
    make("install", "DESTDIR=" + dest)
    assert open(confs[0]).read().endswith("# edited by the operator\n")
    make("uninstall", "DESTDIR=" + dest)
    left = sorted(os.path.relpath(os.path.join(r, f), dest)
                  for r, _, fs in os.walk(dest) for f in fs)
    # only the edited registry stays: it is the operator's now
    assert left == [os.path.relpath(confs[0], dest)], left
