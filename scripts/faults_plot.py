"""Draws the soak's figures (scripts/faults soak's CSV) over time as one SVG
of four panels: scan rate and p99, RSS, open files, WAL and database size.
Run with the matplotlib of target/faults-venv: faults_plot.py CSV OUT.svg"""
import csv, sys

import matplotlib

matplotlib.use("svg")
import matplotlib.pyplot as plt  # noqa: E402 (after choosing the back end)

rows = list(csv.DictReader(open(sys.argv[1])))
t = [float(r["minute"]) for r in rows]
col = lambda name: [float(r[name]) for r in rows]
fig, ax = plt.subplots(4, 1, figsize=(8, 9), sharex=True)
ax[0].plot(t, col("p99_ms"), color="tab:red")
ax[0].set_ylabel("scan p99 (ms)")
ax[0].set_ylim(bottom=0)
rate = ax[0].twinx()
rate.plot(t, col("rps"), color="tab:blue", linewidth=0.8)
rate.set_ylabel("scans/s", color="tab:blue")
rate.set_ylim(bottom=0)
ax[1].plot(t, col("rss_mb"), label="RSS")
if "anon_mb" in rows[0]:
    ax[1].plot(t, col("anon_mb"), label="anonymous")
    ax[1].legend(loc="upper left")
ax[1].set_ylabel("MB")
ax[1].set_ylim(bottom=0)
ax[2].plot(t, col("open_files"), label="files")
if "sockets" in rows[0]:
    ax[2].plot(t, col("sockets"), label="sockets")
    ax[2].legend(loc="upper left")
ax[2].set_ylabel("descriptors")
ax[2].set_ylim(bottom=0)
ax[3].plot(t, col("wal_mb"), label="WAL")
ax[3].plot(t, col("db_mb"), label="database")
ax[3].set_ylabel("MB")
ax[3].legend(loc="upper left")
ax[3].set_xlabel("minutes")
fig.suptitle("tem soak: half the maximum scan rate, with issuance, printing and dashboard use")
fig.tight_layout()
fig.savefig(sys.argv[2])
