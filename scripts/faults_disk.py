"""`scripts/faults disk-full`: SQLite on a file system that fills up.

tem's database lives on a size-limited tmpfs mounted for the run (root is
needed to mount it). Three times the disk is filled to within a little of
full and then an operation runs out of room part-way:

  scans      a wrk scan load (first scans, random order) with 1 MB left;
  issuance   issuing a million stamps (more than the disk holds) through
             the API with 2 MB left, and the same with `tem issue`;
  audit      recalls and lifts of a batch, each an audit-log entry, one
             after another while a scan load fills the last 1 MB.

Each time the filler is then removed while tem keeps running, and the same
operation must work again without a restart. Goals: no answer 500, every
503 carries Retry-After, a scan page that could not record its scan says so;
0 partial issuances (a batch's stamps grow by the whole count or not at
all, and the CLI exits non-zero with a message); every audit append that was
answered 2xx is in the log and none that failed; tem serves again within 5 s
of space coming back; afterwards `PRAGMA integrity_check` is ok, the audit
log verifies and the scan counters equal the scan rows."""
import json, os, shutil, sqlite3, subprocess, tempfile, time
import urllib.error, urllib.request

from faultkit import ROOT, Tem, audit_clean, set_up, sh, sqlite_counts, wait_until, wrk, \
    wrk_figures, write_paths

PORT = 18299


def call(method, url, token=None, body=None, timeout=30):
    """(status, headers by lower-case name, body text) of one request, asked
    as a phone's browser asks; status None on no answer."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, lower(r.headers), r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, lower(e.headers), e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None, {}, ""


def lower(headers):
    return {k.lower(): v for k, v in headers.items()}


def fill(disk, leave):
    """Fills `disk` with a filler file until `leave` bytes are free."""
    path = os.path.join(disk, "filler")
    chunk = b"\0" * (1 << 20)
    with open(path, "ab") as f:
        while True:
            free = shutil.disk_usage(disk).free
            if free <= leave:
                break
            try:
                f.write(chunk[: min(len(chunk), free - leave)])
                f.flush()
            except OSError:
                break
    return path


def query(db, sql, *params):
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        return con.execute(sql, params).fetchone()
    finally:
        con.close()


class Judge:
    """The goals, met or not, in order."""

    def __init__(self):
        self.goals = []

    def __call__(self, goal, ok):
        self.goals.append((goal, bool(ok)))

    def failed(self):
        return any(not ok for _, ok in self.goals)


def back_within(base, probes, limit=10):
    """Seconds until a scan of a fresh stamp is answered 2xx again."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        status, _, _ = call("GET", base + next(probes))
        if status is not None and 200 <= status < 300:
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def scans_case(ctx, judge):
    """A scan load runs into a full disk, and space comes back under it."""
    base, disk, probes = ctx["base"], ctx["disk"], ctx["probes"]
    pfile, _ = write_paths(ctx["work"], ctx["paths"], 301)
    filler = fill(disk, 1 << 20)
    load = wrk(PORT, pfile, 32, 12)
    time.sleep(5)
    status, headers, body = call("GET", base + next(probes))
    says = status == 503 and "chưa được ghi nhận" in body and "retry-after" in headers
    os.remove(filler)
    freed = time.monotonic()
    back = back_within(base, probes)
    figs = wrk_figures(load)
    print(f"  scans: under a full disk a scan page answered {status} "
          f"{'saying the scan was not recorded, with Retry-After' if says else 'WITHOUT saying so'}; "
          f"load: {figs['ok']:,} scans 2xx, {figs['503']:,} 503 ({figs['bare503']} without Retry-After), "
          f"{figs['500']} 500, {figs['other']} other; scans again "
          f"{'never' if back is None else f'{back:.2f} s'} after space came back "
          f"({time.monotonic() - freed:.1f} s ago)", flush=True)
    judge("scans: the scan page says the scan was not recorded (503, Retry-After)", says)
    judge("scans: no 500", figs["500"] == 0 and figs["other"] == 0)
    judge("scans: every 503 has Retry-After", figs["bare503"] == 0)
    judge("scans: serving again within 5 s of space coming back", back is not None and back <= 5)


def issuance_case(ctx, judge):
    """Issuing a million stamps (more than the whole disk holds) with 2 MB
    free, by the API and by the CLI; then a thousand once space is back."""
    base, disk, db, token, batch = ctx["base"], ctx["disk"], ctx["db"], ctx["token"], ctx["batch"]
    count = lambda: query(db, "SELECT COUNT(*) FROM stamps WHERE batch_id = ?", batch)[0]
    n = 1_000_000
    filler = fill(disk, 2 << 20)
    before = count()
    status, headers, body = call("POST", f"{base}/api/v1/batches/{batch}/stamps", token, {"count": n})
    after_api = count()
    code = json.loads(body).get("error", {}).get("code") if body.startswith("{") else None
    cli = subprocess.run([ctx["tem"].bin, "issue", "--batch", str(batch), "--count", str(n)],
                         env=ctx["tem"].env, cwd=ctx["work"], capture_output=True, text=True)
    after_cli = count()
    message = (cli.stderr.strip().splitlines() or [""])[-1]
    print(f"  issuance, disk full: API answered {status} {code} "
          f"(Retry-After {headers.get('retry-after', 'missing')}), stamps {before:,} → {after_api:,}; "
          f"`tem issue` exit {cli.returncode}: \"{message}\", stamps → {after_cli:,}", flush=True)
    judge("issuance: API all-or-nothing", after_api - before in (0, n))
    judge("issuance: API 503 with Retry-After when it did not fit",
          after_api != before or (status == 503 and "retry-after" in headers))
    judge("issuance: CLI all-or-nothing", after_cli - after_api in (0, n))
    judge("issuance: CLI exits non-zero with a message when it did not fit",
          after_cli != after_api or (cli.returncode != 0 and message != ""))
    os.remove(filler)
    status, _, _ = call("POST", f"{base}/api/v1/batches/{batch}/stamps", token, {"count": 1000})
    after = count()
    print(f"  issuance, space back: API answered {status}, stamps {after_cli:,} → {after:,}", flush=True)
    judge("issuance: works again once space is back, no restart",
          status == 201 and after - after_cli == 1000)


def audit_case(ctx, judge):
    """Recalls and lifts (each an audit entry) while a scan load fills the
    disk, then more once space is back."""
    base, disk, db, token = ctx["base"], ctx["disk"], ctx["db"], ctx["token"]
    entries = lambda: query(db, "SELECT COUNT(*) FROM audit_log")[0]
    recalled = lambda: query(db, "SELECT COUNT(*) FROM recalls WHERE batch_id = ? AND lifted_at IS NULL",
                             ctx["recall_batch"])[0]
    state = {"recalled": recalled() > 0}
    statuses = {}

    def toggle():
        b = ctx["recall_batch"]
        if state["recalled"]:
            r = call("POST", f"{base}/api/v1/batches/{b}/recall/lift", token, {"reason": "drill over"})
        else:
            r = call("POST", f"{base}/api/v1/batches/{b}/recall", token,
                     {"reason": "disk-full drill", "notice": "Thử nghiệm: đĩa đầy"})
        statuses[r[0]] = statuses.get(r[0], 0) + 1
        if r[0] is not None and 200 <= r[0] < 300:
            state["recalled"] = not state["recalled"]
        return r

    filler = fill(disk, 1 << 20)
    pfile, _ = write_paths(ctx["work"], ctx["paths"], 302)
    load = wrk(PORT, pfile, 16, 8)
    before, ok, bare = entries(), 0, 0
    while load.poll() is None:
        status, headers, _ = toggle()
        ok += status is not None and 200 <= status < 300
        bare += status == 503 and "retry-after" not in headers
    figs = wrk_figures(load)
    during = entries() - before
    consistent = recalled() == (1 if state["recalled"] else 0)
    print(f"  audit appends, filling: answers {dict(sorted(statuses.items(), key=str))}; "
          f"{ok} answered 2xx, {during} entries appended; the scans alongside: {figs['ok']:,} 2xx, "
          f"{figs['503']:,} 503, {figs['500'] + figs['other']} other; recall state "
          f"{'as answered' if consistent else 'NOT as answered'}", flush=True)
    judge("audit: every append answered 2xx is in the log, none that failed", during == ok)
    judge("audit: the disk filled (some appends answered 503)", statuses.get(503, 0) > 0)
    judge("audit: no 500, every 503 with Retry-After", 500 not in statuses and bare == 0
          and figs["500"] + figs["other"] + figs["bare503"] == 0)
    judge("audit: the batch's recall state is what the answers said", consistent)
    os.remove(filler)
    before = entries()
    statuses.clear()
    for _ in range(10):
        toggle()
    print(f"  audit appends, space back: {statuses}, {entries() - before} entries appended", flush=True)
    judge("audit: appends work again once space is back, no restart",
          statuses.get(200, 0) + statuses.get(201, 0) == 10 and entries() - before == 10)


def disk_full(args):
    sh(["cargo", "build", "--release", "--quiet", "--bin", "tem"], cwd=ROOT)
    work = tempfile.mkdtemp(prefix="tem-faults-")
    disk = os.path.join(work, "disk")
    os.mkdir(disk)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={args.disk_mb}m", "tmpfs", disk],
                             stderr=subprocess.PIPE, text=True)
    if mounted.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        print(f"faults disk-full: cannot mount a {args.disk_mb} MB tmpfs ({mounted.stderr.strip()}); "
              "run it as root", flush=True)
        return 2
    judge = Judge()
    server = None
    try:
        db = os.path.join(disk, "tem.db")
        base = f"http://127.0.0.1:{PORT}"
        tem = Tem(work, db)
        print(f"== disk full, SQLite on a {args.disk_mb} MB tmpfs: setting up {args.stamps:,} stamps…",
              flush=True)
        paths = set_up(tem, args.stamps, base)
        token = tem.run("token", "create", "--role", "admin").strip().splitlines()[-1]
        batch = query(db, "SELECT MAX(id) FROM batches")[0]
        con = sqlite3.connect(db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        counts = sqlite_counts(db)
        start = counts()
        server = tem.serve(PORT)
        wait_until(f"{base}/healthz", 10)
        pid = server.pid
        probes = iter(write_paths(work, paths, 300)[1][::-1])
        ctx = {"base": base, "disk": disk, "db": db, "work": work, "paths": paths, "probes": probes,
               "token": token, "batch": batch, "tem": tem,
               "recall_batch": query(db, "SELECT MIN(id) FROM batches")[0]}
        for case in (scans_case, issuance_case, audit_case):
            case(ctx, judge)
        judge("tem kept running the whole time (no restart)", server.poll() is None and server.pid == pid)
        server.terminate()
        server.wait()
        server = None
        integrity = query(db, "PRAGMA integrity_check")[0]
        end = counts()
        exact = end[0] - start[0] == end[1] - start[1]
        audit = audit_clean(tem)
        print(f"  afterwards: integrity_check {integrity}; audit {'clean' if audit else 'FAILED'}; "
              f"counters {'equal the scan rows' if exact else 'NOT equal to the scan rows'}", flush=True)
        judge("database not corrupt (integrity_check ok)", integrity == "ok")
        judge("audit log verifies", audit)
        judge("scan counters equal scan rows", exact)
    finally:
        if server is not None:
            server.terminate()
            server.wait()
        log = os.path.join(work, f"serve-{PORT}.log")
        if os.path.exists(log):
            shutil.copy(log, "/tmp/tem-faults-disk-serve.log")
        subprocess.run(["umount", disk])
        shutil.rmtree(work, ignore_errors=True)
    print("\n| goal | met |\n|---|---|")
    for goal, ok in judge.goals:
        print(f"| {goal} | {'yes' if ok else 'NO'} |")
    return 1 if judge.failed() else 0
