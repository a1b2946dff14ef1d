"""`scripts/faults soak`: half the maximum scan rate for 30 minutes, with a
trickle of issuance, printing and dashboard use alongside.

The maximum is measured first on the same node (wrk, 64 connections, 10 s
of first scans). The soak then paces wrk connections (each waits between
requests) to half of it, in 30-second parts walking one shuffled list of
three million printed stamps: first scans until the list is used up, then
the same stamps again, about five scans a stamp in all (repeat scans, which
the rules judge and alert on).
Every 5 s, in turn: issue 100 stamps through the API into a batch of their
own, download a PDF sheet of them, and open the dashboard's home and that
batch's page signed in. (Not the page of the batch under the scan load: its
stamps are each scanned again and again by one client, which no real batch
sees; what that page costs is measured once at the end.) Every 10 s: tem's RSS, open files, WAL and database size.

Goals, after a warm-up (the first 5 minutes): RSS grows less than 10 %, open
files do not grow (the last minute's median at most the warm-up's end + 5),
the WAL stays bounded (under 384 MB: the checkpoint restarts it past 256
MiB, checked four times a second; and no larger in the last third than in
the first), p99
stays flat (the last third's median at most 1.25 times the first third's),
and no answer is a 5xx (load and trickle). The figures go to a CSV and a
plot (matplotlib, installed from PyPI into target/faults-venv)."""
import csv, json, os, re, shutil, statistics, subprocess, tempfile, threading, time
import http.client, urllib.parse

from faultkit import ROOT, Tem, set_up, sh, wait_until, wrk, wrk_figures, write_paths

PORT = 18300
PART_S = 30


class Session:
    """One keep-alive connection to tem with cookies (the dashboard) or a token (the API)."""

    def __init__(self, token):
        self.token, self.cookies = token, {}
        self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)

    def request(self, method, path, body=None, headers=None):
        h = dict(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body, h)
                r = self.conn.getresponse()
                data = r.read()
                break
            except (OSError, http.client.HTTPException):
                # tem closes a keep-alive connection idle for 15 s; a
                # browser then opens a new one, and so does this.
                self.conn.close()
                self.conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=60)
                if attempt == 2:
                    return None, b""
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, rest = v.split("=", 1)
                self.cookies[name] = rest.split(";")[0]
        return r.status, data

    def api(self, method, path, body=None):
        return self.request(method, path, json.dumps(body) if body is not None else None,
                            {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"})

    def sign_in(self):
        _, page = self.request("GET", "/app/sign-in")
        pre = re.search(rb'name="pre" value="([^"]+)"', page).group(1).decode()
        form = urllib.parse.urlencode({"token": self.token, "pre": pre, "next": "/app"})
        status, _ = self.request("POST", "/app/sign-in", form,
                                 {"Content-Type": "application/x-www-form-urlencoded"})
        if status != 303:
            raise SystemExit(f"soak: signing in to the dashboard answered {status}")


def trickle(token, product, stop, log):
    """Issuance, printing and dashboard use, one every 5 s, until `stop`."""
    api, dash = Session(token), Session(token)
    dash.sign_in()
    status, body = api.api("POST", f"/api/v1/products/{product}/batches", {
        "lot_code": "SOAK-TRICKLE", "production_date": time.strftime("%Y-%m-%d"),
        "shelf_life_days": 365, "quantity": 100_000, "unit": "quả"})
    if status != 201:
        print(f"soak: creating the trickle's batch answered {status}: {body[:200]!r}", flush=True)
        log.append((time.monotonic(), "setup", status, 0.0))
        return
    batch = json.loads(body)["id"]
    issued, turn = 0, 0
    while not stop.wait(5):
        started = time.monotonic()
        kind = ("issue", "print", "dashboard")[turn % 3]
        if kind == "issue":
            status, _ = api.api("POST", f"/api/v1/batches/{batch}/stamps", {"count": 100})
            issued += 100 if status == 201 else 0
        elif kind == "print":
            status, _ = api.api("GET", f"/api/v1/batches/{batch}/sheet.pdf?layout=a4-65&from="
                                f"{max(1, issued - 99)}&count=100")
        else:
            status, _ = dash.request("GET", "/app/")
            if status == 200:
                status, _ = dash.request("GET", f"/app/batches/{batch}")
        log.append((time.monotonic(), kind, status, time.monotonic() - started))
        turn += 1


def sample(pid, db):
    """tem's RSS and its anonymous part (KB), open files (not sockets) and
    sockets, and the WAL's and database's bytes."""
    rss = anon = 0
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1])
            if line.startswith("RssAnon:"):
                anon = int(line.split()[1])
    files = sockets = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:"):
            sockets += 1
        else:
            files += 1
    size = lambda p: os.path.getsize(p) if os.path.exists(p) else 0
    return rss, files, size(db + "-wal"), size(db), anon, sockets


def plot(rows, out):
    """Draws the soak's figures over time with matplotlib (from PyPI, in a venv)."""
    venv = os.path.join(ROOT, "target", "faults-venv")
    py = os.path.join(venv, "bin", "python")
    if not os.path.exists(py):
        sh(["python3", "-m", "venv", venv])
    if subprocess.run([py, "-c", "import matplotlib"], capture_output=True).returncode != 0:
        sh([os.path.join(venv, "bin", "pip"), "install", "-q", "matplotlib==3.9.2"])
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "faults_plot.py")
    sh([py, script, rows, out])


def soak(args):
    sh(["cargo", "build", "--release", "--quiet", "--bin", "tem"], cwd=ROOT)
    work = tempfile.mkdtemp(prefix="tem-faults-")
    db = os.path.join(work, "tem.db")
    tem = Tem(work, db)
    base = f"http://127.0.0.1:{PORT}"
    stop = threading.Event()
    server, goals = None, []
    try:
        print(f"== soak: setting up {args.stamps:,} stamps…", flush=True)
        paths = set_up(tem, args.stamps, base)
        token = tem.run("token", "create", "--role", "admin").strip().splitlines()[-1]
        import sqlite3
        con = sqlite3.connect(db)
        scanned_batch, product = con.execute(
            "SELECT id, product_id FROM batches ORDER BY id DESC LIMIT 1").fetchone()
        con.close()
        server = tem.serve(PORT)
        wait_until(f"{base}/healthz", 10)
        pfile, _ = write_paths(work, paths, 500)
        maxed = wrk_figures(wrk(PORT, pfile, 64, 10))
        walked = maxed["ok"] + maxed["503"] + maxed["other"] + maxed["500"]
        target = maxed["rps"] / 2
        delay = 10
        conns = max(1, round(target * (delay + 1) / 1000))
        print(f"  maximum: {maxed['rps']:,.0f} scans/s (p99 {maxed['p99_ms']:.1f} ms); soak at half: "
              f"{target:,.0f}/s, {conns} connections each waiting {delay} ms, {args.minutes} min", flush=True)
        log = []
        t = threading.Thread(target=trickle, args=(token, product, stop, log))
        t.start()
        start = time.monotonic()
        rows = []
        failures = {"5xx": 0, "other": 0}
        while time.monotonic() - start < args.minutes * 60:
            load = wrk(PORT, pfile, conns, PART_S, start=walked, delay_ms=delay)
            part_start = time.monotonic()
            samples = []
            # One sample every 10 s while the part runs, each at its own time.
            due = part_start + 10
            while load.poll() is None:
                time.sleep(0.2)
                if time.monotonic() >= due and load.poll() is None:
                    samples.append((time.monotonic(), sample(server.pid, db)))
                    due += 10
            f = wrk_figures(load)
            walked += f["ok"] + f["503"] + f["other"] + f["500"]
            # Latency adds to each connection's wait: steer toward the target.
            conns = max(1, min(1000, round(conns * target / max(f["rps"], 1))))
            failures["5xx"] += f["500"] + f["503"]
            failures["other"] += f["other"] + f["errors"]
            for at, s in samples or [(time.monotonic(), sample(server.pid, db))]:
                rows.append({"minute": round((at - start) / 60, 2), "rps": f["rps"],
                             "p99_ms": f["p99_ms"], "rss_mb": s[0] / 1024, "open_files": s[1],
                             "wal_mb": s[2] / 2**20, "db_mb": s[3] / 2**20, "anon_mb": s[4] / 1024,
                             "sockets": s[5]})
            last = rows[-1]
            print(f"  {last['minute']:5.1f} min: {f['rps']:,.0f} scans/s, p99 {f['p99_ms']:.1f} ms, "
                  f"RSS {last['rss_mb']:.0f} MB ({last['anon_mb']:.0f} anonymous), {last['open_files']} files "
                  f"and {last['sockets']} sockets open, WAL {last['wal_mb']:.0f} MB, "
                  f"database {last['db_mb']:.0f} MB", flush=True)
        stop.set()
        t.join()
        probe = Session(token)
        probe.sign_in()
        began = time.monotonic()
        hot_status, _ = probe.request("GET", f"/app/batches/{scanned_batch}")
        print(f"  the dashboard page of the batch under the load: {hot_status} in "
              f"{time.monotonic() - began:.1f} s (tem idle)", flush=True)
        out = os.path.join(ROOT, "docs", "reliability")
        os.makedirs(out, exist_ok=True)
        table = os.path.join(out, "soak.csv")
        with open(table, "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
        plot(table, os.path.join(out, "soak.svg"))
        warm = [r for r in rows if r["minute"] >= args.warmup]
        if not warm:
            raise SystemExit("soak: no samples after the warm-up; run longer")
        rss0 = warm[0]["rss_mb"]
        rss_growth = max(r["rss_mb"] for r in warm) / rss0 - 1
        files0 = warm[0]["open_files"]
        files_end = statistics.median(r["open_files"] for r in rows if r["minute"] >= rows[-1]["minute"] - 1)
        wal_max = max(r["wal_mb"] for r in rows)
        wal_first = max(r["wal_mb"] for r in warm[:max(1, len(warm) // 3)])
        wal_last = max(r["wal_mb"] for r in warm[-max(1, len(warm) // 3):])
        third = max(1, len(warm) // 3)
        p99_first = statistics.median(r["p99_ms"] for r in warm[:third])
        p99_last = statistics.median(r["p99_ms"] for r in warm[-third:])
        trickle_bad = [e for e in log if e[2] is None or e[2] >= 300]
        kinds = {k: [e[3] for e in log if e[1] == k] for k in ("issue", "print", "dashboard")}
        rate = statistics.median(r["rps"] for r in rows)
        print(f"\n  scans: {walked:,} requests, median {rate:,.0f}/s ({rate / maxed['rps']:.2f} of the maximum), "
              f"{failures['5xx']} answered 5xx, {failures['other']} other or socket errors")
        print(f"  trickle: " + ", ".join(f"{k} {len(v)}× (median {statistics.median(v) * 1000:.0f} ms)"
                                        for k, v in kinds.items() if v)
              + f"; {len(trickle_bad)} failed"
              + (f" ({', '.join(sorted(set(f'{e[1]} {e[2]}' for e in trickle_bad)))})" if trickle_bad else ""))
        print(f"  after the {args.warmup}-minute warm-up: RSS {rss0:.0f} → max {rss0 * (1 + rss_growth):.0f} MB "
              f"({rss_growth * 100:+.1f} %); open files {files0} → {files_end:.0f} (last minute's median); "
              f"WAL max {wal_max:.0f} MB (first third {wal_first:.0f}, last third {wal_last:.0f}); p99 {p99_first:.1f} ms (first third) → {p99_last:.1f} ms (last third)")
        print(f"  figures: {table}; plot: {os.path.join(out, 'soak.svg')}")
        goals = [("RSS grows < 10 % after warm-up", rss_growth < 0.10),
                 ("open files do not grow", files_end <= files0 + 5),
                 ("WAL bounded (< 384 MB, the last third's largest ≤ the first third's)",
                  wal_max < 384 and wal_last <= wal_first),
                 ("p99 flat (last third ≤ 1.25 × first third)", p99_last <= 1.25 * p99_first),
                 ("no 5xx, no failed request", failures["5xx"] + failures["other"] == 0 and not trickle_bad)]
    finally:
        stop.set()
        if server is not None:
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
    print("\n| goal | met |\n|---|---|")
    for goal, ok in goals:
        print(f"| {goal} | {'yes' if ok else 'NO'} |")
    return 0 if goals and all(ok for _, ok in goals) else 1
