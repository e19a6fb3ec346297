#!/usr/bin/env python3
"""The direction of dependencies between tapedeck's modules, checked.

Each module may use only the modules below it in this order (a module never sees what is built on
it, nor a module beside it in the order):

    common <- market <- engine <- strategies <- sweep <- store <- playback <- server <- api <- cli

Checked two ways, both of which must hold:
  - every `#include "X/..."` in src/<module>/ names the module itself or one below it;
  - every `tapedeck_X` target that src/<module>/CMakeLists.txt mentions (links) is itself or below.
A directory of src/ that is not in the order fails too: a new module gets a place in it first.

Some modules are held to fewer than all those below them (ONLY_USES): the server only moves bytes,
so it may use playback and common but not the store, the strategies, the engine or the market data
(what playback's headers bring along is playback's business).

usage: check_deps.py SRC_DIR       check a tree; exit 1 listing every violation
       check_deps.py --self-test   show that an upward include and an upward link are caught
"""
import os
import re
import sys
import tempfile

ORDER = ["common", "market", "engine", "strategies", "sweep", "store", "playback", "server", "api", "cli"]
RANK = {module: rank for rank, module in enumerate(ORDER)}
ONLY_USES = {"server": {"common", "playback"}}

INCLUDE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*"([A-Za-z0-9_]+)/', re.MULTILINE)
# A module may build several libraries: tapedeck_server_core is the server module's.
TARGET = re.compile(r"\btapedeck_([a-z0-9]+)")
SOURCE_SUFFIXES = (".h", ".hpp", ".cpp", ".cc", ".inc")


def refusal(module, used):
    """Why `module` may not use `used`, or None when it may."""
    if used not in RANK or used == module:
        return None
    if RANK[used] > RANK[module]:
        return "which is above it"
    if module in ONLY_USES and used not in ONLY_USES[module]:
        return f"but {module} may use only {', '.join(sorted(ONLY_USES[module]))}"
    return None


def strip_cmake_comments(text):
    return "\n".join(line.split("#", 1)[0] for line in text.splitlines())


def check(src):
    """Every violation in the tree at `src`, as readable lines."""
    problems = []
    for module in sorted(os.listdir(src)):
        path = os.path.join(src, module)
        if not os.path.isdir(path):
            continue
        if module not in RANK:
            problems.append(f"src/{module}: not a module of the order {' <- '.join(ORDER)}")
            continue
        for root, _, files in os.walk(path):
            for name in sorted(files):
                file = os.path.join(root, name)
                shown = os.path.relpath(file, os.path.dirname(src))
                with open(file, encoding="utf-8", errors="replace") as f:
                    text = f.read()
                if name.endswith(SOURCE_SUFFIXES):
                    for match in INCLUDE.finditer(text):
                        used = match.group(1)
                        why = refusal(module, used)
                        if why:
                            line = text.count("\n", 0, match.start()) + 1
                            problems.append(f"{shown}:{line}: {module} includes {used}/, {why}")
                elif name == "CMakeLists.txt":
                    for match in TARGET.finditer(strip_cmake_comments(text)):
                        used = match.group(1)
                        why = refusal(module, used)
                        if why:
                            problems.append(f"{shown}: tapedeck_{module} names tapedeck_{used}, "
                                            f"{why}")
    return problems


def self_test():
    """The checker fails on a tree with an upward include, and on one with an upward link."""
    with tempfile.TemporaryDirectory() as d:
        src = os.path.join(d, "src")
        for module in ("server", "api"):
            os.makedirs(os.path.join(src, module))
        def write(path, text):
            with open(os.path.join(src, path), "w") as f:
                f.write(text)
        write("api/api.h", '#include "server/router.h"\n')
        write("server/router.h", '#include "common/error.h"\n')
        write("server/CMakeLists.txt", "# tapedeck_api is above\ntarget_link_libraries("
              "tapedeck_server PUBLIC tapedeck_playback)\n")
        assert check(src) == [], check(src)
        write("server/router.h", '#include "common/error.h"\n#include "api/api.h"\n')
        found = check(src)
        assert len(found) == 1 and "server/router.h:2" in found[0], found
        write("server/router.h", '#include "common/error.h"\n')
        write("server/CMakeLists.txt", "target_link_libraries(tapedeck_server PUBLIC tapedeck_api)")
        found = check(src)
        assert len(found) == 1 and "tapedeck_api" in found[0], found
        write("server/CMakeLists.txt", "target_link_libraries(tapedeck_server PUBLIC tapedeck_store)")
        found = check(src)
        assert len(found) == 1 and "may use only" in found[0], found
        write("server/CMakeLists.txt", "")
        write("api/api.h", '#include "server/router.h"\n#include "store/store.h"\n')
        assert check(src) == [], check(src)
        os.makedirs(os.path.join(src, "extra"))
        assert any("src/extra" in p for p in check(src)), check(src)
    print("self-test: an upward include, an upward link, a link the server may not have and an "
          "unknown module are caught")
    return 0


def main(argv):
    if len(argv) == 2 and argv[1] == "--self-test":
        return self_test()
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print(__doc__, file=sys.stderr)
        return 2
    problems = check(os.path.abspath(argv[1]))
    for p in problems:
        print(p)
    if problems:
        print(f"{len(problems)} dependency(ies) against the order {' <- '.join(ORDER)}")
        return 1
    print(f"every module depends only on those below it: {' <- '.join(ORDER)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
