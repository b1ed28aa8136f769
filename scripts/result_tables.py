"""What the result-table scripts (stage1_table.py, stage2_table.py, boxinst_table.py) share:
the page header that records the command, per-seed columns of nested metrics, mean ± sd cells,
and writing the page."""
import argparse
import os
import statistics
import sys
import time


def table_arguments(doc, out, config, table, synth=None, force_help="pass --force to wsvis"):
    """The options every table script takes (each adds its own): the build, the output
    folder, the seeds, the run config, the synthetic-set config when it makes one, the page
    to write, --set overrides and --force."""
    ap = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--out", default=out)
    ap.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3])
    ap.add_argument("--config", default=config)
    if synth is not None:
        ap.add_argument("--synth", default=synth)
    ap.add_argument("--table", default=table)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    ap.add_argument("--force", action="store_true", help=force_help)
    return ap


def header(title, script):
    """The first lines of a results page: its title and the command line that made it."""
    return [f"# {title}", "", "Made by (from the repository root, after `make build`):", "",
            "    " + " ".join([script] + sys.argv[1:]), ""]


def seed_column(results, key, seeds, *path, scale=100.0):
    """results[key][seed][path...] for every seed, times scale (percent by default)."""
    out = []
    for s in seeds:
        v = results[key][s]
        for p in path:
            v = v[p]
        out.append(scale * v)
    return out


def mean_sd(values):
    """"mean ± sample sd" with one decimal (sd 0 for a single value)."""
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.mean(values):.1f} ± {sd:.1f}"


def write_page(path, lines, started):
    """Adds the total wall time since `started`, writes the page and prints it."""
    lines = lines + ["", f"Total wall time: {time.time() - started:.0f} s.", ""]
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write("\n".join(lines))
    print("\n".join(lines))
