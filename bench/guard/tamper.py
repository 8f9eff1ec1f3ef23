#!/usr/bin/env python3
"""Overwrites N distinct pages one after the other and measures, for each,
the time from the write returning until the page holds its approved bytes
again (polled in a tight loop). Prints a Markdown line with median and p99."""
import os, statistics, sys, time

root, count = sys.argv[1], int(sys.argv[2])
pages = []
for directory, _, files in os.walk(root):
    pages.extend(os.path.join(directory, name) for name in files if name.endswith(".html"))
    if len(pages) >= count:
        break
latencies, missed = [], 0
for index in range(count):
    page = pages[index % len(pages)]
    with open(page, "rb") as f:
        approved = f.read()
    defaced = b"<h1>hacked %d</h1>" % index
    with open(page, "wb") as f:
        f.write(defaced)
    start = time.perf_counter()
    deadline = start + 5
    while True:
        try:
            with open(page, "rb") as f:
                if f.read() == approved:
                    break
        except FileNotFoundError:
            pass
        if time.perf_counter() > deadline:
            missed += 1
            break
    latencies.append((time.perf_counter() - start) * 1000)
latencies.sort()
p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
print(f"median {statistics.median(latencies):.2f} ms, p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms"
      f" over {len(latencies)} events ({missed} not restored within 5 s).")
