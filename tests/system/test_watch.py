# SPDX-License-Identifier: BSD-3-Clause
# test_watch.py: reload on file change: finished files only, symlinks followed (issue 13).
"""What the inotify watch reacts to, seen from outside.

A file still being written is not loaded: only a close after writing, a
rename into place or a removal counts. Symlinks are followed: the Kubernetes
ConfigMap layout (`srvd.yaml -> ..data/srvd.yaml`, `..data -> ..TIMESTAMP`,
swapped by renaming a new `..data_tmp` link over `..data`, as kubelet's
atomic writer does) and a link to a file in another folder, edited in place
or replaced by a rename, both reload. Deadlines are generous bounds; the
reload itself comes 200 ms after the last event.
"""

import os
import re
import shutil
import time

import dns.rcode

from conftest import SLOW, Srvd, query, wait_until

ZONE = "svc.test."


def main_text(addr, include=None):
    text = ("server:\n  zone: %s\n  watch: true\n" % ZONE +
            ("include: %s\n" % include if include else "") +
            "services:\n  web:\n    port: 80\n    check: {type: none}\n"
            "    instances: [{name: w1, address: %s}]\n" % addr)
    return text


def service(*addrs):
    lines = ["services:", "  db:", "    port: 5432", "    check: {type: none}",
             "    instances:"]
    lines += ["      - {name: d%d, address: %s}" % (i, a) for i, a in enumerate(addrs)]
    return "\n".join(lines) + "\n"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


def addrs(d, name):
    r = query(d, name + "." + ZONE, "A")
    if r.rcode() != dns.rcode.NOERROR:
        return []
    return sorted(rr.address for rrset in r.answer for rr in rrset)


def reloads(d):
    return len(re.findall(r"reload \(file change\)", d.stderr_text()))


def served(d, name, want, what):
    wait_until(lambda: addrs(d, name) == sorted(want), 5.0 * SLOW, what, d)


# --- only finished files ------------------------------------------------------------------


def test_include_file_still_being_written_is_not_loaded(tmp_path):
    os.mkdir(str(tmp_path / "services.d"))
    main = write(str(tmp_path / "srvd.yaml"), main_text("192.0.2.1", "services.d/*.yaml"))
    d = Srvd(main, ZONE).start()
    before = reloads(d)
    # the first half is valid YAML on its own: one instance of the two
    first = service("192.0.2.9")
    rest = "      - {name: d1, address: 192.0.2.10}\n"
    with open(str(tmp_path / "services.d" / "db.yaml"), "w") as f:
        f.write(first)
        f.flush()
        time.sleep(1.5)  # well past the 200 ms debounce
        assert reloads(d) == before, d.stderr_text()
        assert addrs(d, "db") == []
        f.write(rest)
    served(d, "db", ["192.0.2.9", "192.0.2.10"], "the whole file after its close")
    assert reloads(d) == before + 1
    d.stop()


def test_new_symlink_in_include_folder_is_loaded(tmp_path):
    # a symlink is created finished: its creation is the event to react to
    os.mkdir(str(tmp_path / "services.d"))
    os.mkdir(str(tmp_path / "store"))
    main = write(str(tmp_path / "srvd.yaml"), main_text("192.0.2.1", "services.d/*.yaml"))
    write(str(tmp_path / "store" / "db.yaml"), service("192.0.2.9"))
    d = Srvd(main, ZONE).start()
    os.symlink("../store/db.yaml", str(tmp_path / "services.d" / "db.yaml"))
    served(d, "db", ["192.0.2.9"], "a new symlink")
    d.stop()


# --- Kubernetes ConfigMap mounts ----------------------------------------------------------


class ConfigMap:
    """A folder laid out and updated as kubelet's atomic writer does."""

    def __init__(self, folder):
        self.folder = str(folder)
        self.n = 0
        self.current = None
        os.makedirs(self.folder, exist_ok=True)

    def update(self, files):
        """Writes files (name -> text) as a new version and swaps it in."""
        self.n += 1
        ts = "..2026_12_03_10_00_%02d.%d" % (self.n, 1234 + self.n)
        os.mkdir(os.path.join(self.folder, ts))
        for name, text in files.items():
            write(os.path.join(self.folder, ts, name), text)
        tmp = os.path.join(self.folder, "..data_tmp")
        os.symlink(ts, tmp)
        os.rename(tmp, os.path.join(self.folder, "..data"))
        for name in files:
            link = os.path.join(self.folder, name)
            if not os.path.lexists(link):
                os.symlink(os.path.join("..data", name), link)
        if self.current:
            shutil.rmtree(os.path.join(self.folder, self.current))
        self.current = ts


def test_configmap_swap_of_main_file_reloads(tmp_path):
    cm = ConfigMap(tmp_path / "cm")
    cm.update({"srvd.yaml": main_text("192.0.2.1")})
    d = Srvd(os.path.join(cm.folder, "srvd.yaml"), ZONE).start()
    assert addrs(d, "web") == ["192.0.2.1"]
    cm.update({"srvd.yaml": main_text("192.0.2.2")})
    served(d, "web", ["192.0.2.2"], "the first ConfigMap swap")
    # the watched set follows the new target
    cm.update({"srvd.yaml": main_text("192.0.2.3")})
    served(d, "web", ["192.0.2.3"], "the second ConfigMap swap")
    d.stop()


def test_configmap_swap_of_include_file_reloads(tmp_path):
    cm = ConfigMap(tmp_path / "services.d")
    cm.update({"db.yaml": service("192.0.2.9")})
    main = write(str(tmp_path / "srvd.yaml"), main_text("192.0.2.1", "services.d/*.yaml"))
    d = Srvd(main, ZONE).start()
    assert addrs(d, "db") == ["192.0.2.9"]
    cm.update({"db.yaml": service("192.0.2.10")})
    served(d, "db", ["192.0.2.10"], "the first ConfigMap swap")
    cm.update({"db.yaml": service("192.0.2.11", "192.0.2.12")})
    served(d, "db", ["192.0.2.11", "192.0.2.12"], "the second ConfigMap swap")
    d.stop()


# --- a symlink to a file in another folder ------------------------------------------------


def test_symlink_target_in_other_folder_edited_and_replaced(tmp_path):
    os.mkdir(str(tmp_path / "etc"))
    os.mkdir(str(tmp_path / "real"))
    target = write(str(tmp_path / "real" / "main.yaml"), main_text("192.0.2.1"))
    link = str(tmp_path / "etc" / "srvd.yaml")
    os.symlink("../real/main.yaml", link)
    d = Srvd(link, ZONE).start()
    # edited in place: open, write, close
    write(target, main_text("192.0.2.2"))
    served(d, "web", ["192.0.2.2"], "an in-place edit of the target")
    # replaced by a rename in its folder
    tmp = write(str(tmp_path / "real" / ".main.yaml.tmp"), main_text("192.0.2.3"))
    os.rename(tmp, target)
    served(d, "web", ["192.0.2.3"], "a rename over the target")
    # the link itself now points elsewhere: the new target is watched
    write(str(tmp_path / "real" / "other.yaml"), main_text("192.0.2.4"))
    os.symlink("../real/other.yaml", link + ".new")
    os.rename(link + ".new", link)
    served(d, "web", ["192.0.2.4"], "a link swapped to another target")
    write(str(tmp_path / "real" / "other.yaml"), main_text("192.0.2.5"))
    served(d, "web", ["192.0.2.5"], "an edit of the new target")
    d.stop()


def test_symlinked_include_target_edited_in_place(tmp_path):
    os.mkdir(str(tmp_path / "services.d"))
    os.mkdir(str(tmp_path / "store"))
    target = write(str(tmp_path / "store" / "db.yaml"), service("192.0.2.9"))
    os.symlink("../store/db.yaml", str(tmp_path / "services.d" / "db.yaml"))
    main = write(str(tmp_path / "srvd.yaml"), main_text("192.0.2.1", "services.d/*.yaml"))
    d = Srvd(main, ZONE).start()
    assert addrs(d, "db") == ["192.0.2.9"]
    write(target, service("192.0.2.10"))
    served(d, "db", ["192.0.2.10"], "an in-place edit of the include's target")
    d.stop()
