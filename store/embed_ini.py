#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Build step: writes config/auditshim.ini as a C string (conf_default_ini,
conf.h) so a writer without a config file runs with the shipped rules."""
import sys

src, out = sys.argv[1], sys.argv[2]
with open(src, "rb") as f:
    data = f.read()
lines = ["/* Generated from config/auditshim.ini by store/embed_ini.py. */",
         '#include "conf.h"', "", "const char conf_default_ini[] ="]
for line in data.splitlines(keepends=True):
    esc = "".join(c if 0x20 <= ord(c) < 0x7f and c not in '"\\?' else
                  "\\%03o" % ord(c) for c in line.decode("latin-1"))
    lines.append('\t"%s"' % esc)
lines.append('\t"";')
with open(out, "w") as f:
    f.write("\n".join(lines) + "\n")
