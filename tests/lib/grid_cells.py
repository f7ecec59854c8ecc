#!/usr/bin/env python3
"""The cells of a pair grid (sim/lib/pairs_report.py's table#pairs) as a browser rendered it:
reads the DOM Chromium dumped (--dump-dom) and prints the column and row headers, then one
line per pair cell: "cell|mirror PAIR PATH RESULT CLASS :: TEXT". Shared by the grid tests."""
import sys
from html.parser import HTMLParser

class P(HTMLParser):
    """Every td of table#pairs: its attributes and its rendered text."""
    def __init__(self):
        super().__init__()
        self.cells, self.cur, self.intable, self.cols, self.rows = [], None, False, [], []
        self.th = None
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and a.get("id") == "pairs": self.intable = True
        if not self.intable: return
        if tag == "td": self.cur = [a, ""]
        if tag == "th": self.th = [a, ""]
    def handle_endtag(self, tag):
        if tag == "td" and self.cur is not None:
            self.cells.append(self.cur); self.cur = None
        if tag == "th" and self.th is not None:
            (self.cols if self.th[0].get("scope") == "col" else self.rows).append(self.th[1].strip()); self.th = None
        if tag == "table": self.intable = False
    def handle_data(self, d):
        if self.cur is not None: self.cur[1] += d + " "
        if self.th is not None: self.th[1] += d

p = P()
p.feed(open(sys.argv[1], encoding="utf-8").read())
print("cols", "|".join(p.cols))
print("rows", "|".join(p.rows))
for a, text in p.cells:
    if "data-pair" in a:
        kind = "mirror" if a.get("data-mirror") else "cell"
        print(kind, a["data-pair"], a.get("data-path"), a.get("data-result"), a.get("class"), "::", " ".join(text.split()))
