#!/usr/bin/env python3
"""Instructions per call by pipeline stage, from two callgrind runs.

    KEEP=/tmp/cg bash bench/callgrind.sh target/release/toolgate
    python3 bench/callgrind_stages.py /tmp/cg           # the stage table
    python3 bench/callgrind_stages.py /tmp/cg --top 60  # the costliest functions
    python3 bench/callgrind_stages.py /tmp/cg --grep audit

Each function's inclusive cost (callgrind_annotate --inclusive=yes; of a
function listed in parts by the files its inlined code comes from, the
largest part, which holds the others) at N2
calls less that at N1 calls, divided by N2 - N1: start-up cancels out, as in
bench/callgrind.sh. A stage is the sum of the functions listed for it, none
of which calls another of the same stage; stages do not overlap, except
where the table says "within".
"""
import re
import subprocess
import sys

# (stage, [function name regexes]) — matched against demangled names.
STAGES = [
    ("HTTP server: read, parse, route, middleware, write (hyper, axum, tower-http)",
     None),  # the rest of the server's task: computed below
    ("  gate: credential check (key hash, revocations)",
     [r"^toolgate::pipeline::authenticate::Presented::unrevoked$",
      r"^toolgate::identity::Identities::authenticate$"]),
    ("  request parse (JSON body to a call)",
     [r"^toolgate::api::calls::parse$"]),
    ("  stage 1, authenticate (agent, workflow)",
     [r"^toolgate::pipeline::authenticate::agent$"]),
    ("  canary and loaded-secret scans of the call",
     [r"^toolgate::pipeline::validate::canary_in$",
      r"^toolgate::pipeline::validate::no_loaded_secret$",
      r"^toolgate::pipeline::validate::no_token_shape$"]),
    ("  stage 2, resolve",
     [r"^toolgate::pipeline::resolve::tool$"]),
    ("  arguments digest (HMAC)",
     [r"^toolgate::digest::DigestKey::json$"]),
    ("  audit: the trail's fields (caller texts, masked arguments)",
     [r"^toolgate::pipeline::audit::Trail::arguments$",
      r"^toolgate::pipeline::audit::Trail::call$",
      r"^toolgate::pipeline::audit::Trail::tool$"]),
    ("  stage 3, validate (JSON Schema)",
     [r"^toolgate::pipeline::validate::arguments$"]),
    ("  telemetry spans and payload recording",
     [r"^toolgate::telemetry::spans::"]),
    ("  stage 6, build (templates)",
     [r"^toolgate::pipeline::build::request$"]),
    ("  stage 8, credential",
     [r"^toolgate::pipeline::audit::Trail::credential$",
      r"^toolgate::pipeline::credential::inject$"]),
    ("  upstream request: egress check, reqwest send, read body",
     [r"^<reqwest::async_impl::client::Pending as core::future::future::Future>::poll$"]),
    ("  stage 8, shape (redaction of the answer, headers)",
     [r"^toolgate::pipeline::shape::response$"]),
    ("  the answer's JSON",
     [r"^toolgate::pipeline::call::CallOutcome::to_json$"]),
    ("  /metrics counting",
     [r"^toolgate::metrics::Metrics::call$",
      r"^toolgate::metrics::Metrics::upstream$",
      r"^toolgate::metrics::Metrics::redactions$",
      r"^toolgate::metrics::Metrics::audit_append$"]),
    ("upstream client connection task (hyper client, h1)",
     [r"^<hyper::client::conn::http1::upgrades::UpgradeableConnection<I,B> as core::future::future::Future>::poll$"]),
    ("audit writer thread: seal (canonical JSON, SHA-256), serialize, write",
     [r"^toolgate::audit::file::Writer::run$"]),
]

SERVER_TOP = [r"^<hyper::server::conn::http1::UpgradeableConnection<I,S> as core::future::future::Future>::poll$"]

LINE = re.compile(r"^\s*([\d,]+)\s+(?:\([^)]*\)\s+)?(?:\* )?(?:[^:\s]*:)?(.+?)(?: \[[^\]]*\])?\s*$")


def inclusive(path):
    out = subprocess.run(
        ["callgrind_annotate", "--inclusive=yes", "--threshold=100", path],
        check=True, capture_output=True, text=True).stdout
    costs, total = {}, None
    for line in out.splitlines():
        if "=>" in line:
            continue
        if total is None and "PROGRAM TOTALS" in line:
            total = int(line.split()[0].replace(",", ""))
            continue
        m = LINE.match(line)
        if not m:
            continue
        name = m.group(2)
        # `file:function`: the file part has no spaces and ends in `:`
        # before the function; annotate prints `???:name` when unknown.
        if name.startswith("???:"):
            name = name[4:]
        elif re.match(r"^[^ ]*\.rs:", name) or re.match(r"^/[^ ]*:", name):
            name = name.split(":", 1)[1]
        # A function's code inlined from other files is listed apart, each
        # part's inclusive cost within the whole's: the largest is the whole.
        costs[name] = max(costs.get(name, 0), int(m.group(1).replace(",", "")))
    return costs, total


def main():
    d = sys.argv[1]
    n1, n2 = map(int, open(f"{d}/calls").read().split())
    a, ta = inclusive(f"{d}/cg.{n1}.out")
    b, tb = inclusive(f"{d}/cg.{n2}.out")
    per = {k: (b.get(k, 0) - a.get(k, 0)) / (n2 - n1) for k in set(a) | set(b)}
    total = (tb - ta) / (n2 - n1)
    args = sys.argv[2:]
    if args and args[0] == "--top":
        n = int(args[1]) if len(args) > 1 else 40
        for k, v in sorted(per.items(), key=lambda kv: -kv[1])[:n]:
            print(f"{v:10.0f}  {k[:200]}")
        return
    if args and args[0] == "--grep":
        for k, v in sorted(per.items(), key=lambda kv: -kv[1]):
            if re.search(args[1], k) and abs(v) >= 50:
                print(f"{v:10.0f}  {k[:200]}")
        return

    def stage(pats):
        return sum(v for k, v in per.items() if any(re.search(p, k) for p in pats))

    server = stage(SERVER_TOP)
    rows = []
    inner = 0
    for name, pats in STAGES:
        if pats is None:
            rows.append([name, None])
            continue
        v = stage(pats)
        if name.startswith("  "):
            inner += v
        rows.append([name, v])
    rows[0][1] = server - inner
    print(f"| stage | instructions per call | share |")
    print(f"|---|---|---|")
    for name, v in rows:
        shown = name.strip() if not name.startswith("  ") else "… " + name.strip()
        print(f"| {shown} | {v:,.0f} | {100 * v / total:.1f} % |")
    rest = total - server - sum(v for n, v in rows[1:] if not n.startswith("  "))
    print(f"| everything else (tokio scheduling, allocator outside the above, timers, the sample upstream is not counted) | {rest:,.0f} | {100 * rest / total:.1f} % |")
    print(f"| **total** | **{total:,.0f}** | 100 % |")


if __name__ == "__main__":
    main()
