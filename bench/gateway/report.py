"""Turns the results directory of bench/gateway/run.sh into the Markdown
section for BENCHMARKS.md (stdout) and one JSON file with every figure.

Usage: report.py RESULTS_DIR JSON_OUT
"""

import glob
import json
import os
import re
import statistics
import sys

results, json_out = sys.argv[1], sys.argv[2]
conditions = json.load(open(os.path.join(results, "conditions.json")))
TARGETS = ["nginx", "gateway-off", "gateway-on", "origin"]
LABEL = {
    "nginx": "nginx reverse proxy",
    "gateway-off": "sitewarden gateway, integrity off",
    "gateway-on": "sitewarden gateway, integrity on",
    "origin": "origin nginx, direct (reference)",
}
SIZES = ["small", "100k"]


def millis(text):
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", text).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(path):
    text = open(path).read()
    run = {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1)),
        "requests": int(re.search(r"(\d+) requests in", text).group(1)),
        "non_2xx": 0,
        "socket_errors": 0,
    }
    for percentile in ("50", "99"):
        run[f"p{percentile}_ms"] = millis(
            re.search(rf"^\s+{percentile}%\s+(\S+)", text, re.M).group(1)
        )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non_2xx:
        run["non_2xx"] = int(non_2xx.group(1))
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    if errors:
        run["socket_errors"] = sum(int(n) for n in errors.groups())
    cpu = path[: -len(".wrk")] + ".cpu"
    target, origin, wrk, machine, wall = (float(x) for x in open(cpu).read().split())
    run["cpu_seconds"] = target
    run["origin_cpu_seconds"] = origin
    run["wrk_cpu_seconds"] = wrk
    # What the rest of the machine (other builds, tests) took meanwhile,
    # as a share of all cores.
    run["other_cpu_share"] = max(0.0, machine - target - origin - wrk) / (wall * conditions["cores"])
    return run


throughput = {}
for target in TARGETS:
    for size in SIZES:
        runs = [
            parse_wrk(path)
            for path in sorted(glob.glob(os.path.join(results, f"wrk-{target}-{size}-*.wrk")))
        ]
        if not runs:
            continue
        throughput[(target, size)] = {
            "runs": runs,
            "rps": statistics.median(run["rps"] for run in runs),
            "p50_ms": statistics.median(run["p50_ms"] for run in runs),
            "p99_ms": statistics.median(run["p99_ms"] for run in runs),
            "requests_per_cpu_second": statistics.median(
                run["requests"] / run["cpu_seconds"] for run in runs if run["cpu_seconds"] > 0
            ),
            "other_cpu_share": statistics.median(run["other_cpu_share"] for run in runs),
            "non_2xx": sum(run["non_2xx"] for run in runs),
            "socket_errors": sum(run["socket_errors"] for run in runs),
        }

def load(name):
    """One JSON file of the results, or None when its part was not run."""
    path = os.path.join(results, name)
    return json.load(open(path)) if os.path.exists(path) else None


before = load("gw-on-status-before.json")
after = load("gw-on-status-after.json")
if before and after:
    verified_during_throughput = after["verified"] - before["verified"]
    tampered_during_throughput = after["tampered"] - before["tampered"]
    requests_during_throughput = after["requests"] - before["requests"]
else:
    verified_during_throughput = tampered_during_throughput = requests_during_throughput = None

floods = {}
for name in ["nginx", "gateway-off", "gateway-on", "gateway-on-allowlisted"]:
    path = os.path.join(results, f"flood-{name}.json")
    if os.path.exists(path):
        floods[name] = json.load(open(path))
        status = os.path.join(results, f"flood-{name}.status.json")
        if os.path.exists(status):
            floods[name]["gateway_status"] = json.load(open(status))

race = {name: load(f"race-{name}.json") for name in ["gateway", "nginx"]}
race_ran = all(race.values())
race_store = load("race-store.json")
race_counters = {}
if race_ran:
    race_before = load("race-gw-status-before.json")
    race_after = load("race-gw-status-after.json")
    race_counters = {
        key: race_after[key] - race_before[key]
        for key in ("requests", "verified", "origin_checks", "tampered")
        if key in race_after
    }

json.dump(
    {
        "conditions": conditions,
        "throughput": {f"{t}/{s}": v for (t, s), v in throughput.items()},
        "integrity_during_throughput": {
            "requests": requests_during_throughput,
            "verified": verified_during_throughput,
            "tampered": tampered_during_throughput,
        },
        "flood": floods,
        "race": race,
        "race_gateway_counters": race_counters,
        "race_store": race_store,
    },
    open(json_out, "w"),
    indent=2,
)


def ratio(a, b):
    return f"{a / b:.2f}×" if b else "n/a"


c = conditions
out = []
w = out.append
w("## Gateway\n")
w(
    f"Measured {c['date']} by `bench/gateway/run.sh` (release build; sitewarden {c['sitewarden']}) "
    f"on {c['cores']} cores ({c['cpu']}), {c['kernel']}; load average {c['load_before']} before the "
    f"throughput runs and {c['load_after']} after them (other work shares the machine). "
    f"{c['nginx']}, wrk {c['wrk']}. The gateway's cleartext engine: {c.get('engine', 'default')}. "
    f"Everything on 127.0.0.1.\n"
)
if throughput:
    w("### Throughput\n")
    w(
        f"`wrk -t2 -c{c['wrk_connections']} -d{c['wrk_seconds']}s --latency`, {c['rounds']} runs per cell, "
        f"interleaved (the order of targets rotates each round) after a {c['warmup_seconds']} s warm-up of each; "
        f"the median run. Small page: `/` = index.html, {c['small_bytes']} bytes; large page: "
        f"{c['big_bytes']} bytes. \"req / CPU s\" is requests per CPU second of the proxy's own processes "
        f"(user + system, all threads and workers); \"other work's CPU\" is what the rest of the machine "
        f"(not wrk, the origin or the target) took during the run, as a share of all cores.\n"
    )
    w("| target | page | req/s | p50 | p99 | req / CPU s | req/s vs nginx | p99 vs nginx | req / CPU s vs nginx | other work's CPU | every run (req/s, p99) |")
    w("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |")
    for size in SIZES:
        nginx = throughput.get(("nginx", size))
        for target in TARGETS:
            cell = throughput.get((target, size))
            if not cell:
                continue
            runs = ", ".join(f"{run['rps']:.0f} / {run['p99_ms']:.2f} ms" for run in cell["runs"])
            vs_rps = ratio(cell["rps"], nginx["rps"]) if target != "nginx" else "—"
            vs_p99 = ratio(cell["p99_ms"], nginx["p99_ms"]) if target != "nginx" else "—"
            vs_cpu = (
                ratio(cell["requests_per_cpu_second"], nginx["requests_per_cpu_second"])
                if target != "nginx"
                else "—"
            )
            errors = ""
            if cell["non_2xx"] or cell["socket_errors"]:
                errors = f" ({cell['non_2xx']} non-2xx, {cell['socket_errors']} socket errors)"
            w(
                f"| {LABEL[target]} | {'1 KB' if size == 'small' else '100 KB'} | {cell['rps']:.0f} | "
                f"{cell['p50_ms']:.2f} ms | {cell['p99_ms']:.2f} ms | {cell['requests_per_cpu_second']:.0f} | "
                f"{vs_rps} | {vs_p99} | {vs_cpu} | {100 * cell['other_cpu_share']:.0f}% | {runs}{errors} |"
            )
    w("")
    w(
        f"Integrity on: the gateway's counters over the throughput runs: {requests_during_throughput} requests, "
        f"{verified_during_throughput} verified, {tampered_during_throughput} tampered.\n"
    )

if floods:
    w("### Flood\n")
    w(
        f"199 source addresses (127.0.0.2–127.0.0.200), 2 kept-alive connections each, requests back to back "
        f"for {c['flood_seconds']} s (a closed or refused connection is opened again at once), beside one "
        f"legitimate client on 127.0.0.1 asking for `/` {c['legit_rate']} times a second (open loop; success = "
        f"200 with the exact page within 2 s). Origin requests from its `stub_status`.\n"
    )
    w(
        "| through | legit success | legit p50 / p99 | flood answers/s | flood answers by status | "
        "flood conns ended without answer | origin requests | origin req/s |"
    )
    w("| --- | ---: | ---: | ---: | --- | ---: | ---: | ---: |")
    FLOOD_LABEL = {
        "nginx": "nginx reverse proxy (no limits)",
        "gateway-off": "gateway, defences off",
        "gateway-on": "gateway, defences on",
        "gateway-on-allowlisted": "gateway, defences on, client allowlisted",
    }
    for name, flood in floods.items():
        legit, attack = flood["legit"], flood["flood"]
        statuses = ", ".join(f"{k}: {v}" for k, v in attack["statuses"].items()) or "none"
        w(
            f"| {FLOOD_LABEL[name]} | {100 * legit['success_rate']:.2f}% ({legit['ok']}/{legit['attempts']}) | "
            f"{legit['latency_ms']['p50']:.1f} / {legit['latency_ms']['p99']:.1f} ms | "
            f"{attack['answered_per_second']:.0f} | {statuses} | {attack['closed_without_response']} | "
            f"{flood['origin_requests']} | {flood['origin_requests'] / flood['seconds']:.0f} |"
        )
    w("")
    for name, flood in floods.items():
        status = flood.get("gateway_status")
        legit = flood["legit"]
        problems = []
        if legit["statuses"]:
            problems.append("legit statuses " + ", ".join(f"{k}: {v}" for k, v in legit["statuses"].items()))
        if legit["errors"] or legit["timeouts"] or legit["wrong_body"]:
            problems.append(
                f"legit errors {legit['errors']}, timeouts {legit['timeouts']}, wrong body {legit['wrong_body']}"
                + (f" (first: {legit['first_error']})" if legit.get("first_error") else "")
            )
        if status:
            problems.append(
                f"gateway counters: rate-limited {status['rate_limited']}, blocked {status['blocked']}, "
                f"shed {status['shed']}, banned addresses {len(status['blocklist'])}"
            )
        w(f"- {FLOOD_LABEL[name]}: " + "; ".join(problems) + ".")
    w("")

if race_ran:
    w("### Tamper race\n")
    w(
        f"Integrity on. An attacker thread rewrites `index.html` and `page-100k.html` in the origin's "
        f"document root in place (truncate + write) in a tight loop — same-length defacement, approved, "
        f"hidden links appended, approved — while {c['race_connections']} kept-alive connections fetch both "
        f"pages as fast as they can for {c['race_seconds']} s; every body is compared with the approved bytes. "
        f"No guard watcher runs, so the origin really serves the tampered files. The same race through nginx "
        f"is the reference.\n"
    )
    w("| through | whole responses | the approved bytes | tampered bodies received | of which same-length / hidden links / torn | other statuses | truncated responses (began 200) | closed before a response (retried) | attacker writes |")
    w("| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: |")
    for name, label in [("gateway", "sitewarden gateway, integrity on"), ("nginx", "nginx reverse proxy")]:
        r = race[name]
        approved = sum(p["approved"] for p in r["pages"])
        same = sum(p["tampered_same_length"] for p in r["pages"])
        links = sum(p["tampered_hidden_links"] for p in r["pages"])
        torn = sum(p["tampered_torn"] for p in r["pages"])
        statuses = {}
        for p in r["pages"]:
            for k, v in p["statuses"].items():
                statuses[k] = statuses.get(k, 0) + v
        other = ", ".join(f"{k}: {v}" for k, v in statuses.items()) or "none"
        w(
            f"| {label} | {r['responses']} | {approved} | **{r['tampered']}** | {same} / {links} / {torn} | "
            f"{other} | {r['truncated']} ({sum(p['truncated_200'] for p in r['pages'])}) | "
            f"{r['closed_before_response']} | {r['attacker_writes']} |"
        )
    w("")
    for name in ["gateway", "nginx"]:
        for p in race[name]["pages"]:
            w(
                f"- {name}, `{p['url_path']}` ({p['approved_bytes']} bytes): {p['responses']} responses, "
                f"{p['approved']} approved, {p['tampered']} tampered, {p['truncated']} truncated, "
                f"{p['closed_before_response']} closed before a response, {p['timeouts']} timed out"
                + (f"; first truncation: {p['first_truncation']}" if p["first_truncation"] else "")
                + "."
            )
    if "origin_checks" in race_counters:
        # Verified paths answered from the approved copy; the origin checked
        # in the background.
        checks = (
            f"{race_counters['origin_checks']} background checks of the origin, "
            f"{race_counters['tampered']} of which found it serving something else"
        )
    else:
        # The origin fetched for every request and compared as it streamed.
        checks = (
            f"{race_counters['tampered']} origin responses differed from the approved bytes "
            f"(the approved copy was sent instead)"
        )
    w(
        f"\nThe gateway's counters during its race: {race_counters['requests']} requests, "
        f"{race_counters['verified']} verified, {checks}. Recorded in its store: "
        f"{race_store['signals']} signals, {race_store['evidence']} evidence records, "
        f"{race_store['incidents']} incidents.\n"
    )
print("\n".join(out))
