#!/usr/bin/env python3
"""Sums a /proc/PID/smaps's resident pages (Rss) by what they are: the binary, shared libraries,
the dataset's series mappings (.bars), the main heap ([heap]: the first thread's arena), each
anonymous mapping of 1 MB or more resident (glibc's per-thread arenas are 64 MiB reservations,
shown with their size), and the rest of the anonymous pages (stacks, small mappings).

    bench/smaps_categories.py /proc/PID/smaps    (or a saved copy)
"""
import collections
import re
import sys


def main(path):
    rss = collections.Counter()
    current = None
    for line in open(path):
        m = re.match(r'^([0-9a-f]+)-([0-9a-f]+) \S+ \S+ \S+ \S+\s*(.*)$', line)
        if m:
            size_kb = (int(m.group(2), 16) - int(m.group(1), 16)) // 1024
            name = m.group(3).strip()
            if name.endswith('/tapedeck') or name.endswith('-tapedeck'):
                current = 'binary'
            elif '.so' in name:
                current = 'shared libraries'
            elif name.endswith('.bars'):
                current = 'dataset mappings (.bars)'
            elif name == '':
                current = f'anonymous mapping of {size_kb} kB'
            else:
                current = name
            continue
        if line.startswith('Rss:') and current:
            rss[current] += int(line.split()[1])
    out = collections.Counter()
    for what, kb in rss.items():
        if what.startswith('anonymous mapping') and kb < 1024:
            what = 'other anonymous (< 1 MB resident each)'
        out[what] += kb
    for what, kb in out.most_common():
        if kb:
            print(f'{kb / 1024:7.1f} MB  {what}')
    print(f'{sum(out.values()) / 1024:7.1f} MB  total')


if __name__ == '__main__':
    main(sys.argv[1])
