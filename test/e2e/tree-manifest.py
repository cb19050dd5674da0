#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""tree-manifest.py [--exclude GLOB]... DIR

Prints one line per entry below DIR (DIR itself is "."), sorted by path:
everything a faithful copy must reproduce, and nothing that legitimately
differs between filesystems. Two trees are equal copies when their manifests
are equal.

Fields, tab-separated: path, type, mode, uid:gid, size, mtime in ns, hard
link group, xattrs, content. The size and link count of a directory depend
on the filesystem, so they are left out; inode numbers differ in any copy, so
a hard link group is named by the first path of the inode instead. Content is
the SHA-256 of a regular file, the target of a symlink, major:minor of a
device. xattrs include security.capability, trusted.overlay.* and POSIX ACLs.

--exclude takes fnmatch patterns on the relative path ("*" matches "/" too);
an excluded directory is not entered. Mount points below DIR are listed as
such and not entered.
"""

import argparse
import fnmatch
import hashlib
import os
import stat
import sys

TYPE_CHARS = [
    (stat.S_ISREG, "f"),
    (stat.S_ISDIR, "d"),
    (stat.S_ISLNK, "l"),
    (stat.S_ISCHR, "c"),
    (stat.S_ISBLK, "b"),
    (stat.S_ISFIFO, "p"),
    (stat.S_ISSOCK, "s"),
]


def escape(raw):
    """Paths and link targets are bytes: keep them on one line, unambiguous."""
    out = []
    for byte in raw:
        if byte < 0x21 or byte >= 0x7F or byte == 0x5C:
            out.append("\\x%02x" % byte)
        else:
            out.append(chr(byte))
    return "".join(out)


def type_char(mode):
    for test, char in TYPE_CHARS:
        if test(mode):
            return char
    return "?"


# XFS lists its on-disk form of a POSIX ACL as these trusted.* names, beside
# the system.posix_acl_* names every filesystem shows: the ACL itself is
# compared through the latter.
FILESYSTEM_PRIVATE_XATTRS = {"trusted.SGI_ACL_FILE", "trusted.SGI_ACL_DEFAULT"}


def xattrs_of(path):
    try:
        names = sorted(os.listxattr(path, follow_symlinks=False))
    except OSError:
        return "-"
    pairs = []
    for name in names:
        if name in FILESYSTEM_PRIVATE_XATTRS:
            continue
        value = os.getxattr(path, name, follow_symlinks=False)
        pairs.append("%s=%s" % (name, value.hex()))
    return ",".join(pairs) if pairs else "-"


def sha256_of(path):
    digest = hashlib.sha256()
    with open(path, "rb", buffering=0) as f:
        while True:
            chunk = f.read(1 << 20)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def walk(top, rel, top_dev, excludes, entries):
    """Collects (relpath bytes, lstat) for rel and all below it."""
    path = os.path.join(top, rel) if rel else top
    st = os.lstat(path)
    entries.append((rel, st))
    if not stat.S_ISDIR(st.st_mode) or st.st_dev != top_dev:
        return
    for name in sorted(os.listdir(path)):
        child = os.path.join(rel, name) if rel else name
        if any(fnmatch.fnmatchcase(os.fsdecode(child), pat) for pat in excludes):
            continue
        walk(top, child, top_dev, excludes, entries)


def main():
    parser = argparse.ArgumentParser(description="manifest of a directory tree")
    parser.add_argument("--exclude", action="append", default=[])
    parser.add_argument("dir")
    args = parser.parse_args()

    top = os.fsencode(args.dir)
    entries = []
    walk(top, b"", os.lstat(top).st_dev, args.exclude, entries)

    first_path_of_inode = {}
    for rel, st in entries:
        if not stat.S_ISDIR(st.st_mode) and st.st_nlink > 1:
            first_path_of_inode.setdefault((st.st_dev, st.st_ino), rel or b".")

    out = sys.stdout
    top_dev = entries[0][1].st_dev
    for rel, st in entries:
        path = os.path.join(top, rel) if rel else top
        if st.st_dev != top_dev:
            # Another filesystem mounted here (a running container's merged/):
            # not part of the tree, but say that something was there.
            out.write("%s\tmountpoint\n" % escape(rel))
            continue
        mode = st.st_mode
        kind = type_char(mode)
        is_dir = kind == "d"
        size = "-" if is_dir else str(st.st_size)
        if is_dir or st.st_nlink == 1:
            link_group = "-"
        else:
            link_group = "%d:%s" % (st.st_nlink,
                                    escape(first_path_of_inode[(st.st_dev, st.st_ino)]))
        if kind == "f":
            content = sha256_of(path)
        elif kind == "l":
            content = escape(os.readlink(path))
        elif kind in ("c", "b"):
            content = "%d:%d" % (os.major(st.st_rdev), os.minor(st.st_rdev))
        else:
            content = "-"
        out.write("\t".join([
            escape(rel) if rel else ".",
            kind,
            "%04o" % stat.S_IMODE(mode),
            "%d:%d" % (st.st_uid, st.st_gid),
            size,
            str(st.st_mtime_ns),
            link_group,
            xattrs_of(path),
            content,
        ]) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
