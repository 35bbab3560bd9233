#!/bin/bash
# layers.sh - daemon/'s folders are layers (issue 25).
#
# The layers, bottom to top, each with its interface header (relative to
# daemon/; "-": every header of the folder is public).  A folder may use its
# own files and, of the folders below it, only their interface headers and
# functions.  libssh2.h may appear only in ssh/.
LAYERS='
common   -
base     base/base.h
ssh      ssh/ssh.h
config   config/conf.h
tunnel   tunnel/tunnel.h
control  control/control.h
proc     proc/proc.h
'
LIBSSH2_LAYER=ssh
#
# usage: tests/layers.sh [-v] [--lib PATH] [--map FILE] [ROOT]
#
#   -v         list each edge's lines (includes) or functions (calls)
#   ROOT       the source tree (default: $top_srcdir, else the tree this
#              script is in)
#   --lib      the built daemon/libtunneld.a: its objects (beside it, as
#              automake's subdir-objects leaves them) and daemon/tunneld's
#              main object are read with nm for the calls between folders
#              (default under make check: $top_builddir/daemon/libtunneld.a)
#   --map      a file placing daemon/'s files in folders other than the ones
#              they are in, to judge a tree before it is moved: lines
#              "FOLDER GLOB..." (globs relative to daemon/, first match
#              wins), "shared GLOB..." (a header everyone may include, not
#              counted as an edge) and "interface FOLDER HEADER"
#
# It fails (exit 1) when a file includes a header of a folder above its own
# (rule 1) or another folder's private header (rule 2), when the folders'
# include graph has a cycle (rule 3), when libssh2.h is included outside
# ssh/ (rule 4), when an object calls a function defined in a folder above
# its own (rule 5), or when a daemon file is in no layer.  Output is TAP;
# the graphs and the table of folders are its comments.
: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
export LAYERS LIBSSH2_LAYER top_srcdir
export top_builddir="${top_builddir-}"
exec "${PYTHON3:-python3}" - "$@" <<'EOF'
import fnmatch
import os
import re
import subprocess
import sys


def usage():
    sys.stderr.write("usage: layers.sh [-v] [--lib PATH] [--map FILE] [ROOT]\n")
    sys.exit(2)


def parse_layers(text):
    order, iface = [], {}
    for line in text.splitlines():
        words = line.split()
        if not words:
            continue
        order.append(words[0])
        iface[words[0]] = None if words[1] == "-" else words[1]
    return order, iface


ORDER, IFACE = parse_layers(os.environ["LAYERS"])
RANK = {name: i for i, name in enumerate(ORDER)}
LIBSSH2_LAYER = os.environ["LIBSSH2_LAYER"]
CYCLES_SHOWN = 12
INCLUDE_RE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


class Tree:
    """The source tree: its files, and the folder each is in."""

    def __init__(self, root, mapfile):
        self.root = root
        self.map, self.shared = None, []
        if mapfile:
            self.read_map(mapfile)
        self.files = []
        for top in ("common", "daemon"):
            for dirpath, dirnames, filenames in os.walk(os.path.join(root, top)):
                dirnames.sort()
                for name in sorted(filenames):
                    if name.endswith((".c", ".h")):
                        path = os.path.join(dirpath, name)
                        self.files.append(os.path.relpath(path, root))
        self.fileset = set(self.files)

    def read_map(self, mapfile):
        self.map = []
        with open(mapfile) as f:
            for line in f:
                words = line.split("#")[0].split()
                if not words:
                    continue
                if words[0] == "shared":
                    self.shared += words[1:]
                elif words[0] == "interface":
                    if len(words) != 3 or words[1] not in RANK:
                        sys.exit("%s: bad line: %s" % (mapfile, line.strip()))
                    IFACE[words[1]] = words[2]
                elif words[0] in RANK:
                    self.map += [(words[0], g) for g in words[1:]]
                else:
                    sys.exit("%s: no layer %s" % (mapfile, words[0]))

    def is_shared(self, path):
        rel = path[len("daemon/"):] if path.startswith("daemon/") else None
        return rel is not None and any(fnmatch.fnmatch(rel, g) for g in self.shared)

    def folder(self, path):
        """The layer PATH (relative to the root) is in, or None."""
        parts = path.split("/")
        if parts[0] == "common":
            return "common"
        if parts[0] != "daemon":
            return None
        if self.map is not None:
            rel = "/".join(parts[1:])
            for layer, glob in self.map:
                if fnmatch.fnmatch(rel, glob):
                    return layer
            return None
        if len(parts) > 2 and parts[1] in RANK and parts[1] != "common":
            return parts[1]
        return None

    def is_interface(self, path, layer):
        if IFACE[layer] is None:
            return True
        return path == "daemon/" + IFACE[layer]

    def resolve(self, path, name):
        """The file "NAME" included from PATH names: its own folder, then
        -I daemon, then -I common (Makefile.am's order)."""
        for base in (os.path.dirname(path), "daemon", "common"):
            cand = os.path.normpath(os.path.join(base, name))
            if cand in self.fileset:
                return cand
        return None

    def lines(self, path):
        with open(os.path.join(self.root, path), errors="replace") as f:
            return f.read().splitlines()


def add_edge(graph, a, b, item):
    graph.setdefault(a, {}).setdefault(b, []).append(item)


def cycles(graph):
    """Every simple cycle of GRAPH (folder -> {folder: items}), each once
    (begun at its lowest folder), shortest first."""
    found = []

    def walk(start, node, path):
        for nxt in sorted(graph.get(node, {}), key=RANK.get):
            if nxt == start:
                found.append(path + [start])
            elif RANK[nxt] > RANK[start] and nxt not in path:
                walk(start, nxt, path + [nxt])

    for start in sorted(graph, key=RANK.get):
        walk(start, start, [start])
    return sorted(found, key=len)


def check_includes(tree, r):
    """Rules 1, 2, 4 and the include graph (rule 3's)."""
    graph, shared_users = {}, set()
    for path in tree.files:
        layer = tree.folder(path)
        if layer is None and not tree.is_shared(path):
            r.fail(6, "%s: in no layer folder (%s)" % (path, " ".join(ORDER)))
        for n, line in enumerate(tree.lines(path), 1):
            m = INCLUDE_RE.match(line)
            if not m:
                continue
            kind, name = m.groups()
            where = "%s:%d" % (path, n)
            if os.path.basename(name).startswith("libssh2") and layer != LIBSSH2_LAYER:
                r.fail(4, '%s: includes <%s> outside %s/ (in %s)'
                       % (where, name, LIBSSH2_LAYER, layer or "no layer"))
            if kind == "<" or name == "config.h":
                continue
            target = tree.resolve(path, name)
            if target is None:
                r.fail(2, '%s: "%s" is neither in its folder nor under daemon/ '
                       'or common/ (another folder\'s header is included as '
                       '"FOLDER/NAME.h")' % (where, name))
                continue
            if tree.is_shared(target):
                shared_users.add(path)
                continue
            tlayer = tree.folder(target)
            if layer is None or tlayer is None or tlayer == layer:
                continue
            add_edge(graph, layer, tlayer, where)
            if RANK[tlayer] > RANK[layer]:
                r.fail(1, '%s: %s includes "%s" of %s, a folder above it'
                       % (where, layer, name, tlayer))
            if not tree.is_interface(target, tlayer):
                r.fail(2, '%s: includes "%s", private to %s (its interface: %s)'
                       % (where, name, tlayer, IFACE[tlayer]))
    for cyc in cycles(graph):
        r.fail(3, "include cycle: " + " -> ".join(cyc) + " ("
               + "; ".join(graph[a][b][0] for a, b in zip(cyc, cyc[1:])) + ")")
    return graph, shared_users


def nm(obj):
    """OBJ's global defined symbols ({name: type}) and undefined ones."""
    out = subprocess.run(["nm", "-P", obj], check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    defined, undefined = {}, set()
    for line in out.splitlines():
        words = line.split()
        if len(words) < 2:
            continue
        sym, kind = words[0], words[1]
        if kind == "U":
            undefined.add(sym)
        elif kind.isupper():
            defined[sym] = kind
    return defined, undefined


def objects(tree, lib, r):
    """(source, object) for every built C file: automake's subdir-objects
    puts daemon/X/f.c's object at BUILD/daemon/X/libtunneld_a-f.o (or
    tunneld-f.o, daemon/tunneld's own) and common/f.c's at BUILD/common/."""
    build = os.path.dirname(os.path.dirname(os.path.abspath(lib)))
    members = subprocess.run(["ar", "t", lib], check=True, stdout=subprocess.PIPE,
                             universal_newlines=True).stdout.split()
    found, seen = [], set()
    for src in tree.files:
        if not src.endswith(".c"):
            continue
        d, f = os.path.split(src)
        stem = f[:-2]
        for prefix in ("libtunneld_a-", "tunneld-", "libcommon_a-", ""):
            obj = os.path.join(build, d, prefix + stem + ".o")
            if os.path.exists(obj):
                found.append((src, obj))
                seen.add(os.path.basename(obj))
                break
        else:
            r.note("%s: no object in %s" % (src, os.path.join(build, d)))
    for member in members:
        if member not in seen:
            r.fail(5, "%s: member %s has no source in %s" % (lib, member, tree.root))
    return found


def source_line(tree, src, sym):
    """Where SRC names SYM: a call in a function's body (indented) first,
    else any mention outside a comment."""
    lines = tree.lines(src)
    call = re.compile(r"^\s.*\b%s\s*\(" % re.escape(sym))
    word = re.compile(r"\b%s\b" % re.escape(sym))
    for pat in (call, word):
        for n, line in enumerate(lines, 1):
            if pat.search(line) and not line.lstrip().startswith(("*", "/*", "//")):
                return "%s:%d" % (src, n)
    return src


def check_calls(tree, lib, r):
    """Rule 5 and the call graph: what each object leaves undefined and
    another object defines."""
    built = [(src, tree.folder(src)) + nm(obj) for src, obj in objects(tree, lib, r)]
    owner = {}
    for src, layer, defined, _ in built:
        for sym, kind in defined.items():
            owner.setdefault(sym, (src, layer, kind))
    graph = {}
    for src, layer, _, undefined in sorted(built):
        for sym in sorted(undefined):
            if sym not in owner:
                continue
            dsrc, dlayer, kind = owner[sym]
            if layer is None or dlayer is None or dlayer == layer:
                continue
            add_edge(graph, layer, dlayer, sym)
            if RANK[dlayer] > RANK[layer]:
                what = "calls %s()" % sym if kind in "TW" else "uses %s" % sym
                r.fail(5, "%s: %s %s defined in %s, of %s above it"
                       % (source_line(tree, src, sym), layer, what, dsrc, dlayer))
    return graph


class Report:
    RULES = {
        1: "rule 1: no file includes a header of a folder above its own",
        2: "rule 2: no file includes another folder's private header",
        3: "rule 3: the folders' include graph has no cycle",
        4: "rule 4: libssh2.h is included only in %s/" % LIBSSH2_LAYER,
        5: "rule 5: no object calls a function of a folder above its own",
        6: "every daemon file is in a layer folder",
    }

    def __init__(self):
        self.failures = {n: [] for n in self.RULES}
        self.notes = []
        self.skip = {}

    def fail(self, rule, msg):
        self.failures[rule].append(msg)

    @staticmethod
    def where(msg):
        m = re.match(r"([^:]+):(\d+):", msg)
        return (m.group(1), int(m.group(2))) if m else (msg, 0)

    def note(self, msg):
        self.notes.append(msg)

    def finish(self):
        print("1..%d" % len(self.RULES))
        for n in sorted(self.RULES):
            if n in self.skip:
                print("ok %d - %s # SKIP %s" % (n, self.RULES[n], self.skip[n]))
                continue
            bad = self.failures[n]
            print("%sok %d - %s" % ("not " if bad else "", n, self.RULES[n]))
            for msg in sorted(bad, key=self.where):
                print("#   " + msg)
        for msg in self.notes:
            print("# note: " + msg)
        broken = [n for n in self.RULES if self.failures[n]]
        if broken:
            print("# FAIL: %d rule(s) broken, %d finding(s)" %
                  (len(broken), sum(len(self.failures[n]) for n in broken)))
            return 1
        print("# PASS: the folders are layers")
        return 0


def print_table(tree):
    print("# folders, bottom to top: files and lines")
    print("#   %-8s %5s %6s  %s" % ("folder", "files", "lines", "files"))
    rows = ORDER + [None]
    for layer in rows:
        files = [p for p in tree.files if tree.folder(p) == layer
                 and (layer is not None or not tree.is_shared(p))]
        if layer is None:
            files += [p for p in tree.files if tree.is_shared(p)]
            if not files:
                continue
        n = sum(len(tree.lines(p)) for p in files)
        names = " ".join(os.path.relpath(p, "common" if layer == "common" else "daemon")
                         for p in files)
        label = layer or ("(shared)" if tree.shared else "(none)")
        print("#   %-8s %5d %6d  %s" % (label, len(files), n, names))


def knots(graph):
    """The strongly connected sets of more than one folder."""
    reach = {a: {a} for a in ORDER}
    changed = True
    while changed:
        changed = False
        for a in ORDER:
            more = set().union(*(reach[b] for b in graph.get(a, {}))) - reach[a]
            if more:
                reach[a] |= more
                changed = True
    sets = {tuple(b for b in ORDER if b in reach[a] and a in reach[b]) for a in ORDER}
    return sorted((k for k in sets if len(k) > 1), key=lambda k: RANK[k[0]])


def print_graph(title, graph, count, verbose):
    print("# %s" % title)
    for a in ORDER:
        for b in sorted(graph.get(a, {}), key=RANK.get):
            up = "   UP" if RANK[b] > RANK[a] else ""
            print("#   %s -> %s (%d)%s" % (a, b, count(graph[a][b]), up))
            if verbose:
                print("#       " + " ".join(sorted(set(graph[a][b]))))
    for knot in knots(graph):
        print("#   knot (each reaches each): " + " ".join(knot))
    found = cycles(graph)
    for cyc in found[:CYCLES_SHOWN]:
        print("#   cycle: " + " -> ".join(cyc))
    if len(found) > CYCLES_SHOWN:
        print("#   ... and %d longer cycles" % (len(found) - CYCLES_SHOWN))


def main(argv):
    lib, mapfile, root, verbose = None, None, None, False
    args = iter(argv)
    for arg in args:
        if arg in ("-v", "--verbose"):
            verbose = True
        elif arg == "--lib":
            lib = next(args, None) or usage()
        elif arg == "--map":
            mapfile = next(args, None) or usage()
        elif arg.startswith("-"):
            usage()
        elif root is None:
            root = arg
        else:
            usage()
    root = os.path.normpath(root or os.environ["top_srcdir"])
    if lib is None and os.environ.get("top_builddir"):
        lib = os.path.join(os.environ["top_builddir"], "daemon/libtunneld.a")
    tree = Tree(root, mapfile)
    r = Report()
    print("# layers, bottom to top: " + " ".join(ORDER))
    print("# source: %s%s" % (root, " (mapped by %s)" % mapfile if mapfile else ""))
    print_table(tree)
    inc, shared_users = check_includes(tree, r)
    print_graph("include graph (#include lines between folders)", inc, len, verbose)
    if shared_users:
        print("# shared headers (%s): included by %d files, no edge"
              % (" ".join(tree.shared), len(shared_users)))
    if lib is None:
        r.skip[5] = "no --lib"
    elif not os.path.exists(lib):
        r.fail(5, "%s: no such library (build first)" % lib)
    else:
        print("# library: %s" % lib)
        calls = check_calls(tree, lib, r)
        print_graph("call graph (functions and variables used between folders, nm)",
                    calls, lambda items: len(set(items)), verbose)
    return r.finish()


sys.exit(main(sys.argv[1:]))
EOF
