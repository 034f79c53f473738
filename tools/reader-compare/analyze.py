import csv, json, statistics as st, collections
rows = []
for f in ["r_clean300","r_scans300","r_clean200","r_scans200","p_clean300","p_scans300","p_clean200","p_scans200"]:
    for line in open(f + ".tsv"):
        c = line.rstrip("\n").split("\t")
        rows.append(c)
truth = {}
for c in rows:
    if c[2] == "zxingcpp" and c[3] == "whole" and c[0].startswith("clean"):
        truth[(c[0][-3:], c[1])] = c[4]
src = {}
for dpi in ("300", "200"):
    for e in json.load(open(f"scans{dpi}/manifest.json")):
        src[("scans"+dpi, e["file"])] = e
def gt(set_, name):
    if set_.startswith("clean"): return truth[(set_[-3:], name)]
    return truth[(set_[-3:], src[(set_, name)]["source"])]
print("truth missing:", [k for k,v in truth.items() if not v.startswith("K1.")])
print("truth 200 vs 300 differ:", sum(truth[("200",n)] != truth[("300",n)] for (d,n) in truth if d=="300"))
fd = collections.defaultdict(list)
for c in rows:
    if c[2] == "filedecode": fd[c[0]].append(int(c[7]))
    if c[2] == "py-zxingcpp": fd["py-"+c[0]].append(int(c[8]))
for k,v in fd.items(): print("filedecode", k, "median ms %.1f total s %.2f" % (st.median(v)/1e3, sum(v)/1e6))
g = collections.defaultdict(list)
for c in rows:
    if c[2] == "filedecode": continue
    g[(c[0], c[2], c[3])].append(c)
print("| set | decoder | strategy | correct | wrong K1 | other-only | miss | stages R/R'/page | median ms | total s |")
for (s, d, strat), cs in g.items():
    ok = sum(c[4] == gt(s, c[1]) for c in cs)
    wrong = sum(bool(c[4]) and c[4] != gt(s, c[1]) for c in cs)
    other = sum((not c[4]) and bool(c[6]) for c in cs)
    miss = sum((not c[4]) and not c[6] for c in cs)
    stages = collections.Counter(c[5] for c in cs)
    t = [int(c[7]) for c in cs]
    print(f"| {s} | {d} | {strat} | {ok}/{len(cs)} | {wrong} | {other} | {miss} | {stages['R']}/{stages[chr(82)+chr(39)]}/{stages['page']} | {st.median(t)/1e3:.1f} | {sum(t)/1e6:.2f} |")
# details: failures
print("\nfailures:")
for (s, d, strat), cs in g.items():
    for c in cs:
        if c[4] != gt(s, c[1]):
            e = src.get((s, c[1]), {})
            print(s, d, strat, c[1], e.get("source",""), e.get("kind",""), e.get("upside_down",""), e.get("rotated_deg",""), "got", repr(c[4]), "other", c[6])
# crop stage vs upside down
print("\nupside-down scans with K1 found in R (not R'):")
for (s, d, strat), cs in g.items():
    if strat=="crop" and s.startswith("scans"):
        n = [(c[1]) for c in cs if src[(s,c[1])]["upside_down"] and c[5]=="R"]
        m = [(c[1]) for c in cs if not src[(s,c[1])]["upside_down"] and c[5]=="R'"]
        if n or m: print(s, d, "upside in R:", n, "upright in R':", m)
