"""The project the manifests must agree with: the images deploy/cluster/images builds (each
Dockerfile's user, uid:gid, entrypoint, command and copies), the version, what the central and
patroni entrypoints read, the secret files compose/make-secrets makes. And the mounts both
the compose and the Kubernetes checks build for a container, against which
check_daemon_paths checks that each daemon (central, patroni, pgbouncer, haproxy, etcd) has
the files it reads on a mount that provides them and can write where it writes."""

import glob
import os
import re

import yaml

from .report import fail


class Project:
    def __init__(self, root):
        self.root = root
        self.cluster = os.path.join(root, "deploy", "cluster")
        self.version = None
        cm = os.path.join(root, "CMakeLists.txt")
        if os.path.exists(cm):
            m = re.search(r"project\(\s*\w+\s+VERSION\s+([0-9.]+)", open(cm).read())
            self.version = m.group(1) if m else None
        self.images = {}  # "millrace/NAME:VERSION" -> info
        for dockerfile in sorted(glob.glob(os.path.join(self.cluster, "images", "*", "Dockerfile"))):
            name = os.path.basename(os.path.dirname(dockerfile))
            self.images[f"millrace/{name}:{self.version}"] = self.read_dockerfile(dockerfile)
        ep = os.path.join(self.cluster, "images", "central", "entrypoint.sh")
        text = open(ep).read() if os.path.exists(ep) else ""
        m = re.search(r"run=\$\{MILLRACE_RUN_DIR:-([^}]+)\}", text)
        self.central_run = m.group(1) if m else "/run/millrace"
        m = re.search(r"^state=(\S+)", text, re.M)
        self.central_state = m.group(1) if m else "/var/lib/millrace/central"
        ep = os.path.join(self.cluster, "images", "patroni", "entrypoint.sh")
        text = open(ep).read() if os.path.exists(ep) else ""
        m = re.search(r"secrets=\$\{MILLRACE_SECRETS_DIR:-([^}]+)\}", text)
        self.patroni_secrets_dir = m.group(1) if m else "/run/secrets"
        m = re.search(r"config=\$\{MILLRACE_PATRONI_CONFIG:-([^}]+)\}", text)
        self.patroni_config_default = m.group(1) if m else None
        self.patroni_secret_files = sorted(set(re.findall(r"^read_secret \w+ ([\w.-]+)", text, re.M))
                                           | set(re.findall(r'\$secrets/([\w.-]+)"', text)))
        ms = os.path.join(self.cluster, "compose", "make-secrets")
        self.made_secrets = set(re.findall(r'^\s+"([\w.-]+)": (?:None|\d+),', open(ms).read(), re.M)
                                ) if os.path.exists(ms) else set()

    def read_dockerfile(self, path):
        text = open(path).read()
        info = {"path": path, "text": text, "uid": None, "gid": None, "user": None,
                "entrypoint": None, "cmd": None, "from": None, "copies": []}
        joined = re.sub(r"\\\n", " ", text)
        for line in joined.splitlines():
            s = line.strip()
            if not s or s.startswith("#"):
                continue
            ins, _, rest = s.partition(" ")
            ins = ins.upper()
            if ins == "FROM":
                info["from"] = rest.split()[0]
            elif ins == "USER":
                info["user"] = rest.strip()
            elif ins in ("ENTRYPOINT", "CMD"):
                try:
                    info[ins.lower()] = yaml.safe_load(rest)
                except yaml.YAMLError:
                    info[ins.lower()] = rest
            elif ins == "COPY":
                parts = [p for p in rest.split() if not p.startswith("--")]
                info["copies"].append((parts[:-1], parts[-1]))
            elif ins == "RUN":
                m = re.search(r"useradd\b.*?--uid (\d+) --gid (\d+)", rest)
                if m:
                    info["uid"], info["gid"] = int(m.group(1)), int(m.group(2))
        return info


# ---------------------------------------------------------------------------------------
# Mounts, shared by both checks: which files a container sees and where it may write.


class Mount:
    def __init__(self, path, kind, files=None, writable=False, what=""):
        self.path = path.rstrip("/") or "/"
        self.kind = kind          # config | secret | scratch | volume
        self.files = files        # set of relative paths (config, secret), or a single file
        self.writable = writable
        self.what = what


def mount_for(mounts, path):
    best = None
    for m in mounts:
        if path == m.path or path.startswith(m.path + "/"):
            if best is None or len(m.path) > len(best.path):
                best = m
    return best


def provides_file(mounts, path, kinds):
    m = mount_for(mounts, path)
    if m is None or m.kind not in kinds:
        return False
    if m.files is None:
        return True
    rel = os.path.relpath(path, m.path) if path != m.path else "."
    return rel in m.files


def writable(mounts, path):
    m = mount_for(mounts, path)
    return m is not None and m.writable


def check_daemon_paths(role, env, args, mounts, project, files, at, what):
    """The files each daemon reads and the directories it writes, against its mounts.
    files: the configuration texts (central.toml, patroni.yml, pgbouncer.ini, haproxy.cfg)."""
    if role == "central":
        run = env.get("MILLRACE_RUN_DIR", project.central_run)
        if not writable(mounts, run) or mount_for(mounts, run).kind != "scratch":
            fail(at, f"{what}: {run} (the entrypoint's copies of its secrets) is not a "
                     "writable tmpfs/emptyDir")
        if env.get("PGPASSFILE") != f"{run}/pgpass":
            fail(at, f"{what}: PGPASSFILE must be {run}/pgpass (the entrypoint's 0600 copy), "
                     f"not {env.get('PGPASSFILE')!r}")
        if not env.get("MILLRACE_PGPASS_SOURCE"):
            fail(at, f"{what}: no MILLRACE_PGPASS_SOURCE: libpq would have no password")
        elif not provides_file(mounts, env["MILLRACE_PGPASS_SOURCE"], ("secret",)):
            fail(at, f"{what}: MILLRACE_PGPASS_SOURCE {env['MILLRACE_PGPASS_SOURCE']} is not a "
                     "file of a mounted secret")
        if args[:1] in (["serve"], []):
            for var, kinds in (("MILLRACE_CONFIG_SOURCE", ("config",)),
                               ("MILLRACE_KEY_SOURCE", ("secret",))):
                p = env.get(var)
                if not p:
                    fail(at, f"{what}: {var} is not set")
                elif not provides_file(mounts, p, kinds):
                    fail(at, f"{what}: {var} {p} is not a file of a mounted "
                             f"{'/'.join(kinds)}")
            if not writable(mounts, project.central_state):
                fail(at, f"{what}: {project.central_state} (site backups, exports) is not on a "
                         "writable volume")
            elif mount_for(mounts, project.central_state).kind != "volume":
                fail(at, f"{what}: {project.central_state} must be a volume every node shares, "
                         "not a tmpfs/emptyDir")
            toml = files.get("central.toml")
            if toml:
                exports = toml.get("jobs", {}).get("export_dir", "exports")
                if not exports.startswith("/"):
                    exports = f"{run}/{exports}"
                if not writable(mounts, exports) and not exports.startswith(run + "/"):
                    fail(at, f"{what}: [jobs] export_dir {exports} is not on a writable volume")
                if toml.get("sync", {}).get("secret_key_file") != "central.key":
                    fail(at, f"{what}: [sync] secret_key_file must be \"central.key\" (the "
                             "entrypoint copies the key beside the file)")
        elif args[:1] == ["migrate"]:
            pass
        else:
            fail(at, f"{what}: runs {args[:1]}; wanted serve or migrate")
    elif role == "patroni":
        conf = env.get("MILLRACE_PATRONI_CONFIG", project.patroni_config_default)
        if not conf or not provides_file(mounts, conf, ("config",)):
            fail(at, f"{what}: its Patroni configuration {conf} is not a file of a mounted config")
        for f in project.patroni_secret_files:
            if not provides_file(mounts, f"{project.patroni_secrets_dir}/{f}", ("secret",)):
                fail(at, f"{what}: {project.patroni_secrets_dir}/{f} (read by the entrypoint) "
                         "is not a file of a mounted secret")
        p = files.get("patroni.yml") or {}
        pg = p.get("postgresql", {})
        for label, path in (("postgresql.data_dir", pg.get("data_dir")),
                            ("postgresql.pgpass", os.path.dirname(pg.get("pgpass", "") or "")),
                            ("unix_socket_directories",
                             (pg.get("parameters") or {}).get("unix_socket_directories"))):
            if path and not writable(mounts, path):
                fail(at, f"{what}: {label} {path} is not on a writable volume")
        dd = pg.get("data_dir")
        if dd and writable(mounts, dd) and mount_for(mounts, dd).kind != "volume":
            fail(at, f"{what}: postgresql.data_dir {dd} is on a tmpfs/emptyDir, not a volume")
    elif role == "pgbouncer":
        conf = args[0] if args else None
        if not conf or not provides_file(mounts, conf, ("config",)):
            fail(at, f"{what}: pgbouncer.ini {conf} is not a file of a mounted config")
        ini = files.get("pgbouncer.ini") or {}
        auth = ini.get("pgbouncer", {}).get("auth_file")
        if not auth or not provides_file(mounts, auth, ("secret",)):
            fail(at, f"{what}: auth_file {auth} is not a file of a mounted secret")
    elif role == "haproxy":
        ep = project.images.get(f"millrace/haproxy:{project.version}", {}).get("entrypoint") or []
        conf = ep[ep.index("-f") + 1] if "-f" in ep else None
        if not conf or not provides_file(mounts, conf, ("config",)):
            fail(at, f"{what}: haproxy.cfg {conf} (the image's -f) is not a file of a mounted "
                     "config")
    elif role == "etcd":
        dd = env.get("ETCD_DATA_DIR")
        for a in args:
            if a.startswith("--data-dir="):
                dd = a.split("=", 1)[1]
        if not dd or not writable(mounts, dd) or mount_for(mounts, dd).kind != "volume":
            fail(at, f"{what}: etcd's data dir {dd} is not on a writable volume")


def role_of(image):
    m = re.match(r"^millrace/([a-z0-9-]+):", image or "")
    return m.group(1) if m else None
