"""Prints the tuning table of a .pqw for FileCheck, decoded with flatc
independently of the compiler: the machine's thread count, then per entry
its shape, regime, tokens and candidates, and whether the chosen one is the
fastest measured (never the times themselves: they vary from run to run).

Usage: check_tuning.py SCHEMA.fbs MODEL.pqw WORK_DIR [CACHE.json]
With CACHE.json, also says whether the cache holds the same measurements.
"""

import json
import os
import subprocess
import sys


def name(candidate):
    chunk = candidate.get("chunk_words", 0)
    return candidate["strategy"] + (f"/{chunk}" if chunk else "")


def main():
    schema, model, work = sys.argv[1:4]
    subprocess.run(["flatc", "--json", "--raw-binary", "--strict-json", "--defaults-json", "-o", work,
                    schema, "--", model], check=True)
    header = json.load(open(os.path.join(work, os.path.splitext(os.path.basename(model))[0] + ".json")))
    tuning = header["tuning"]
    print("cpu", "named" if tuning["cpu"] else "MISSING", "features", "listed" if tuning["features"] else "MISSING")
    print("threads", tuning["threads"])
    for entry in tuning["entries"]:
        times = [c["median_ns"] for c in entry["candidates"]]
        fastest = min(range(len(times)), key=times.__getitem__)
        positive = all(t > 0 for t in times)
        print(f"{entry['rows']}x{entry['cols']} {entry['regime']} {entry['tokens']}:",
              " ".join(name(c) for c in entry["candidates"]),
              "| chose", "fastest" if entry["chosen"] == fastest and positive else "WRONG")
    if len(sys.argv) > 4:
        cache = json.load(open(sys.argv[4]))["entries"]
        same = len(cache) == len(tuning["entries"]) and all(
            any(c["rows"] == e["rows"] and c["cols"] == e["cols"] and c["regime"] == e["regime"]
                and c["chosen"] == e["chosen"]
                and [round(x["median_ns"]) for x in c["candidates"]] == [round(x["median_ns"]) for x in e["candidates"]]
                for c in cache)
            for e in tuning["entries"])
        print("cache", "same" if same else "DIFFERENT")


main()
