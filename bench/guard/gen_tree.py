#!/usr/bin/env python3
"""Generates a web root of N files: 10 top directories, 10 subdirectories
each, files of 1-16 KiB of HTML-like text, deterministic."""
import os, random, sys

root, count = sys.argv[1], int(sys.argv[2])
random.seed(20986)
words = b"finance budget notice province policy report procurement public service ".split()
for index in range(count):
    directory = os.path.join(root, f"d{index % 10}", f"s{(index // 10) % 10}", f"t{(index // 100) % 100}")
    os.makedirs(directory, exist_ok=True)
    size = random.randint(1024, 16384)
    body = b" ".join(random.choice(words) for _ in range(size // 8))
    with open(os.path.join(directory, f"page{index}.html"), "wb") as f:
        f.write(b"<html><body>" + body + b"</body></html>")
