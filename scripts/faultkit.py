"""Helpers shared by scripts/faults and its cases: tem's binary with one
environment, a printed batch to scan, wrk loads and their figures, and the
counts that tell whether a scan was lost."""
import json, os, random, re, sqlite3, subprocess, sys, time
import urllib.error, urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WALK = os.path.join(ROOT, "scripts", "walk.lua")
PG = os.environ.get("TEM_FAULTS_PG", "postgres://tem_test:tem_test@127.0.0.1:5432/tem_test")


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, stdout=subprocess.PIPE, text=True, **kw).stdout


def answers(url, timeout=0.5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return 200 <= r.status < 300
    except (urllib.error.URLError, OSError):
        return False


def wait_until(url, limit):
    """Seconds until `url` answers 2xx, or None after `limit` seconds."""
    start = time.monotonic()
    while time.monotonic() - start < limit:
        if answers(url):
            return time.monotonic() - start
        time.sleep(0.02)
    return None


class Tem:
    """tem's binary with one environment (database, keys, config)."""

    def __init__(self, work, db):
        self.bin = os.path.join(ROOT, "target", "release", "tem")
        self.work = work
        self.env = {**os.environ, "TEM_DB": db, "TEM_KEYS": os.path.join(work, "keys"),
                    "TEM_CONFIG": os.path.join(work, "tem.toml"), "RUST_LOG": "warn"}

    def run(self, *args, db=None):
        env = {**self.env, "TEM_DB": db} if db else self.env
        return sh([self.bin, *args], env=env, cwd=self.work, stderr=subprocess.DEVNULL)

    def serve(self, port, db=None, base=None):
        env = {**self.env, **({"TEM_DB": db} if db else {})}
        if base:
            env["TEM_BASE_URL"] = base
        log = open(os.path.join(self.work, f"serve-{port}.log"), "a")
        return subprocess.Popen([self.bin, "serve", "--listen", f"127.0.0.1:{port}"], env=env,
                                cwd=self.work, stdout=log, stderr=log)


def set_up(tem, stamps, base):
    """Demo data and a batch of `stamps` printed stamps; their paths, shuffled."""
    with open(os.path.join(tem.work, "tem.toml"), "w") as f:
        f.write(f'base_url = "{base}"\n[scan]\nrate_per_minute = 0\n')
    tem.run("demo")
    out = tem.run("batch", "add", "--product", "2", "--lot", "FAULTS", "--production-date",
                  time.strftime("%Y-%m-%d"), "--shelf-life-days", "3650", "--quantity", str(stamps),
                  "--unit", "quả", "--json")
    batch = str(json.loads(out)["id"])
    for first in range(0, stamps, 1_000_000):  # at most a million an issuance
        tem.run("issue", "--batch", batch, "--count", str(min(1_000_000, stamps - first)))
    csv = os.path.join(tem.work, "stamps.csv")
    paths = []
    for first in range(1, stamps + 1, 100_000):
        # The print-shop CSV prints the stamps (a scan of an issued, unprinted
        # stamp is a warning, not a first scan), at most 100,000 a file.
        n = min(100_000, stamps - first + 1)
        tem.run("sheet", "--batch", batch, "--from", str(first), "--count", str(n), "-o", csv)
        with open(csv) as f:
            at = next(f).rstrip("\n").split(",").index("url")
            paths += ["/" + line.rstrip("\n").split(",")[at].rsplit("/", 1)[1] for line in f]
        os.remove(csv)
    return paths


def wrk(port, paths_file, conns, seconds, start=0, delay_ms=None):
    """A scan load: `conns` connections walking the paths in `paths_file`
    from line `start`, each waiting `delay_ms` before a request if given."""
    env = {**os.environ, "PATHS": paths_file, "START": str(start)}
    if delay_ms is not None:
        env["DELAY_MS"] = str(delay_ms)
    return subprocess.Popen(["wrk", "-t1", f"-c{conns}", f"-d{seconds}s", "--latency", "-s", WALK,
                             f"http://127.0.0.1:{port}"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def acked(p):
    out = p.communicate()[0]
    m = re.search(r"ok2xx=(\d+)", out)
    if not m:
        raise SystemExit("wrk printed no summary:\n" + out)
    return int(m.group(1))


def write_paths(work, paths, seed):
    shuffled = paths[:]
    random.Random(seed).shuffle(shuffled)
    f = os.path.join(work, f"paths-{seed}.txt")
    with open(f, "w") as out:
        out.writelines(p + "\n" for p in shuffled)
    return f, shuffled


class Counts:
    """Genuine scan rows, the stamps' counters, and the largest counter."""

    def __init__(self, query):
        self.query = query

    def __call__(self):
        return self.query(
            "SELECT (SELECT COUNT(*) FROM scans WHERE verdict = 'genuine'),"
            " (SELECT COALESCE(SUM(scan_count), 0) FROM stamps),"
            " (SELECT COALESCE(MAX(scan_count), 0) FROM stamps)")


def sqlite_counts(db):
    def q(sql):
        con = sqlite3.connect(db)
        row = con.execute(sql).fetchone()
        con.close()
        return tuple(int(x) for x in row)
    return Counts(q)


def pg_counts(url):
    def q(sql):
        out = sh(["psql", url, "-tAF,", "-c", sql]).strip()
        return tuple(int(x) for x in out.split(","))
    return Counts(q)


def audit_clean(tem, db=None):
    try:
        tem.run("audit", "verify", db=db)
        return True
    except subprocess.CalledProcessError:
        return False


def drop_db(name):
    """Drops a scratch database; tried again while an autovacuum worker (which
    the test role may not stop) is still on it."""
    for _ in range(10):
        if subprocess.run(["psql", PG, "-qc", f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"],
                          stderr=subprocess.DEVNULL).returncode == 0:
            return
        time.sleep(1)
    print(f"faults: could not drop database {name}", file=sys.stderr)


def pg_cluster(action):
    """`pg_ctlcluster VERSION NAME action` on the machine's first cluster."""
    version, name = sh(["pg_lsclusters", "--no-header"]).split()[:2]
    subprocess.run(["pg_ctlcluster", version, name, action], check=True)


def wrk_figures(p):
    out = p.communicate()[0]
    m = re.search(r"ok2xx=(\d+) .*s500=(\d+) s503=(\d+) other=(\d+) errors=(\d+) maxms=([\d.]+)", out)
    if not m:
        raise SystemExit("wrk printed no summary:\n" + out)
    ok, s500, s503, other, errors = (int(m.group(i)) for i in range(1, 6))
    bare = re.search(r"bare503=(\d+)", out)
    pace = re.search(r"rps=([\d.]+) p99ms=([\d.]+)", out)
    return {"ok": ok, "500": s500, "503": s503, "other": other, "errors": errors,
            "max_ms": float(m.group(6)), "bare503": int(bare.group(1)) if bare else 0,
            "rps": float(pace.group(1)), "p99_ms": float(pace.group(2))}


def status(url, timeout=5.0):
    """The status of one GET (None if no answer within `timeout` s)."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except (urllib.error.URLError, OSError):
        return None
