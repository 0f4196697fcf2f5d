"""The checks that run tools, each when it is installed (else a "skip" line, or with
--require-tools a failure): haproxy -c on each haproxy.cfg; pgbouncer loading each
pgbouncer.ini (started on a spare port, then stopped); patroni --validate-config on each
patroni.yml; etcd's flags and variables against `etcd --help`; kubectl kustomize rendering
the kustomization, with every Secret and ConfigMap a pod names among what it renders;
`mes-central config check` on each central.toml. And the images: their Dockerfiles (base,
apt only, a fixed non-root uid, their files in the context) and scripts (sh -n, shellcheck)."""

import glob
import os
import re
import select
import shutil
import socket
import subprocess
import tempfile
import time

import yaml

from .project import role_of
from .report import failures, fail, ok, skip
from .yamlload import kwhere, where


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def tool_haproxy(label, text, origin, args):
    exe = shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy") else None)
    if not exe:
        return skip(f"haproxy -c on {label}: haproxy is not installed", args)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "haproxy.cfg")
        open(p, "w").write(text)
        r = run([exe, "-c", "-f", p])
    out = r.stdout + r.stderr
    bad = [l for l in out.splitlines() if re.search(r"\[(WARNING|ALERT)\]", l)
           and not re.search(r"could not resolve address", l)]
    if r.returncode != 0 or bad:
        msgs = [re.sub(r"\[[^\]]*haproxy\.cfg:(\d+)\]",
                       lambda m: f"[{origin[0]}:{origin[1] + int(m.group(1)) - 1}]", l)
                for l in (bad or out.splitlines()[-5:])]
        fail(f"{origin[0]}:{origin[1]}", f"haproxy -c fails on {label}: " + " | ".join(msgs))
    else:
        unresolved = len(re.findall(r"could not resolve address", out))
        ok(f"haproxy -c: {label} is valid ({unresolved} names unresolvable here, started "
           "without them: init-addr ...,none)")


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def tool_pgbouncer(label, text, origin, args):
    exe = shutil.which("pgbouncer") or ("/usr/sbin/pgbouncer" if os.path.exists("/usr/sbin/pgbouncer") else None)
    if not exe:
        return skip(f"pgbouncer loading {label}: pgbouncer is not installed", args)
    with tempfile.TemporaryDirectory() as d:
        os.chmod(d, 0o755)
        auth = os.path.join(d, "userlist.txt")
        open(auth, "w").write('"millrace_app" "SCRAM-SHA-256$4096:AAAAAAAAAAAAAAAAAAAAAA==$'
                              'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=:'
                              'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="\n')
        port = free_port()
        t = re.sub(r"(?m)^listen_addr\s*=.*$", "listen_addr = 127.0.0.1", text)
        t = re.sub(r"(?m)^listen_port\s*=.*$", f"listen_port = {port}", t)
        t = re.sub(r"(?m)^auth_file\s*=.*$", f"auth_file = {auth}", t)
        p = os.path.join(d, "pgbouncer.ini")
        open(p, "w").write(t)
        for f in (p, auth):
            os.chmod(f, 0o644)
        # As root it would refuse to start (after loading the file): run it as nobody.
        drop = (lambda: (os.setgid(65534), os.setuid(65534))) if os.geteuid() == 0 else None
        proc = subprocess.Popen([exe, p], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                preexec_fn=drop)
        fd, buf, deadline = proc.stdout.fileno(), b"", time.monotonic() + 10
        while time.monotonic() < deadline:
            if select.select([fd], [], [], 0.1)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                buf += chunk
                if b"process up" in buf:  # (a bad file: FATAL, and it exits by itself)
                    break
            elif proc.poll() is not None:
                break
        if proc.poll() is None:
            proc.terminate()  # the one process this started
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        buf += proc.stdout.read()
        proc.stdout.close()
        out = buf.decode(errors="replace")
    errors = [l for l in out.splitlines() if re.search(r"\b(ERROR|FATAL)\b", l)
              and "should not run as root" not in l]
    if errors or "process up" not in out and "should not run as root" not in out:
        line = next((int(m.group(1)) for m in (re.search(r"\(\S*pgbouncer\.ini:(\d+)\)", e)
                                                  for e in errors) if m), 1)
        fail(f"{origin[0]}:{origin[1] + line - 1}", f"pgbouncer does not load {label}: "
                                                    + " | ".join(errors or out.splitlines()[-3:]))
    else:
        ok(f"pgbouncer 1.18 loads {label} (started on a spare port, then stopped)")


def tool_patroni(label, text, origin, args, hosts_known):
    exe = shutil.which("patroni") or ("/usr/bin/patroni" if os.path.exists("/usr/bin/patroni") else None)
    if not exe:
        return skip(f"patroni --validate-config on {label}: patroni is not installed", args)
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "patroni.yml")
        open(p, "w").write(text)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PATRONI_")}
        # Stand-ins for what each member's environment gives (a pod's address).
        env.update(PATRONI_NAME="pg-0", PATRONI_RESTAPI_CONNECT_ADDRESS="10.0.0.10:8008",
                   PATRONI_POSTGRESQL_CONNECT_ADDRESS="10.0.0.10:5432",
                   PATRONI_SUPERUSER_USERNAME="postgres", PATRONI_SUPERUSER_PASSWORD="x",
                   PATRONI_REPLICATION_USERNAME="replicator", PATRONI_REPLICATION_PASSWORD="x",
                   PATRONI_REWIND_USERNAME="rewind", PATRONI_REWIND_PASSWORD="x",
                   PATRONI_RESTAPI_USERNAME="patroni", PATRONI_RESTAPI_PASSWORD="x")
        r = run([exe, "--validate-config", p], env=env, cwd=d)
    out = (r.stdout + r.stderr).strip()
    # Names of the manifests' own services do not resolve here; they are checked above.
    problems = [l for l in out.splitlines() if l.strip() and not (
        re.search(r"didn't pass validation: \[Errno -[235]\]", l)
        and any(h in l for h in hosts_known))]
    if problems:
        fail(f"{origin[0]}:{origin[1]}", f"patroni --validate-config {label}: " + " | ".join(problems))
    else:
        ok(f"patroni --validate-config: {label} is valid (its etcd names aside, unresolvable here)")


def tool_mes_central(label, text, origin, args):
    exe = args.mes_central
    with tempfile.TemporaryDirectory() as d:
        key = os.path.join(d, "central.key")
        r = run([exe, "keygen", "--secret", key, "--public", os.path.join(d, "central.pub")])
        if r.returncode != 0:
            fail("", f"mes-central keygen failed: {r.stderr.strip()}")
            return
        p = os.path.join(d, "central.toml")
        open(p, "w").write(text)
        r = run([exe, "config", "check", p])
    out = (r.stdout + r.stderr).strip()
    if r.returncode != 0:
        fail(f"{origin[0]}:{origin[1]}", f"mes-central config check {label} exits {r.returncode}: "
                                         + " | ".join(out.splitlines()[:3]))
    else:
        ok(f"mes-central config check: {label} is good ({'; '.join(out.splitlines()[1:])})")


def tool_etcd(k8s, compose, args):
    exe = shutil.which("etcd")
    if not exe:
        return skip("etcd flags: etcd is not installed", args)
    r = run([exe, "--help"])
    flags = set(re.findall(r"^\s+--([a-z0-9-]+)", r.stdout + r.stderr, re.M))
    if not flags:
        return skip("etcd flags: etcd --help lists none", args)
    n = 0
    for o in k8s.objects:
        if o.get("kind") != "StatefulSet":
            continue
        for c in o["spec"]["template"]["spec"]["containers"]:
            if role_of(c.get("image")) != "etcd":
                continue
            env = {e["name"] for e in c.get("env") or []}
            given = set()
            for a in c.get("args") or []:
                f = a[2:].split("=", 1)[0]
                given.add(f)
                n += 1
                if f not in flags:
                    fail(where(c), f"etcd: --{f} is not a flag of etcd (etcd --help)")
                if "ETCD_" + f.upper().replace("-", "_") in env:
                    fail(where(c), f"etcd: --{f} and its ETCD_ variable both set: etcd 3.4 refuses")
            cl = next((a.split("=", 1)[1] for a in c.get("args") or [] if a.startswith("--initial-cluster=")), "")
            members = [m.split("=")[0] for m in cl.split(",") if m]
            want = [f"{o['metadata']['name']}-{i}" for i in range(o["spec"].get("replicas", 1))]
            if members != want:
                fail(where(c), f"etcd: --initial-cluster names {members}, the StatefulSet's pods are {want}")
    for s in (compose.doc.get("services") or {}).values():
        if role_of(s.get("image")) == "etcd":
            for k in s.get("environment") or {}:
                n += 1
                f = k[5:].lower().replace("_", "-")
                if not k.startswith("ETCD_") or f not in flags:
                    fail(kwhere(s.get("environment"), k), f"etcd: {k} names no etcd flag")
    if not failures:
        ok(f"etcd: {n} flags and variables are etcd's own; --initial-cluster names the StatefulSet's pods")


def tool_kustomize(k8s, args):
    exe = shutil.which("kubectl")
    if not exe:
        return skip("kubectl kustomize: kubectl is not installed", args)
    with tempfile.TemporaryDirectory() as d:
        copy = os.path.join(d, "kubernetes")
        shutil.copytree(k8s.dir, copy, ignore=shutil.ignore_patterns("secrets"))
        os.makedirs(os.path.join(copy, "secrets"))
        for name in k8s.project.made_secrets:
            open(os.path.join(copy, "secrets", name), "w").write("stand-in\n")
        r = run([exe, "kustomize", copy])
    if r.returncode != 0:
        fail(os.path.relpath(k8s.dir, k8s.project.root), f"kubectl kustomize fails: {r.stderr.strip()}")
        return
    rendered = [d for d in yaml.safe_load_all(r.stdout) if d]
    secrets = {d["metadata"]["name"] for d in rendered if d["kind"] == "Secret"}
    configmaps = {d["metadata"]["name"] for d in rendered if d["kind"] == "ConfigMap"}
    missing = []
    for d in rendered:
        if d.get("metadata", {}).get("namespace", k8s.namespace) != k8s.namespace:
            missing.append(f"{d['kind']} {d['metadata']['name']} rendered in namespace "
                           f"{d['metadata'].get('namespace')}")
        pod = (d.get("spec") or {}).get("template", {}).get("spec") if d["kind"] in (
            "Deployment", "StatefulSet", "Job") else None
        if not pod:
            continue
        for v in pod.get("volumes") or []:
            refs = [("Secret", v["secret"]["secretName"])] if "secret" in v else []
            refs += [("ConfigMap", v["configMap"]["name"])] if "configMap" in v else []
            for s in (v.get("projected") or {}).get("sources") or []:
                refs += [("Secret", s["secret"]["name"])] if "secret" in s else []
                refs += [("ConfigMap", s["configMap"]["name"])] if "configMap" in s else []
            for kind, name in refs:
                if name not in (secrets if kind == "Secret" else configmaps):
                    missing.append(f"{d['kind']} {d['metadata']['name']} names {kind} {name}")
    if missing:
        fail(os.path.relpath(k8s.dir, k8s.project.root), "kubectl kustomize: " + "; ".join(missing))
    else:
        ok(f"kubectl kustomize renders {len(rendered)} objects; every Secret and ConfigMap a pod "
           "names (hash-suffixed by the generators) is among them")


def check_images(project, args):
    n = 0
    for image, info in project.images.items():
        rel = os.path.relpath(info["path"], project.root)
        n += 1
        if info["from"] != "debian:bookworm-slim":
            fail(rel, f"FROM {info['from']}, wanted debian:bookworm-slim")
        if re.search(r"\b(curl|wget)\b|ADD\s+https?:", info["text"]):
            fail(rel, "downloads something outside apt")
        if info["uid"] is None or info["user"] != f"{info['uid']}:{info['gid']}":
            fail(rel, f"USER {info['user']} is not the uid:gid its useradd makes "
                      f"({info['uid']}:{info['gid']})")
        ctx = os.path.dirname(info["path"])
        for srcs, dst in info["copies"]:
            for s in srcs:
                if "*" in s and s.endswith(".deb"):
                    continue  # the package, copied in by images/build
                if not os.path.exists(os.path.join(ctx, s)):
                    fail(rel, f"COPY {s}: not in the build context {os.path.relpath(ctx, project.root)}")
                elif s.endswith(".sh") and not os.access(os.path.join(ctx, s), os.X_OK):
                    fail(rel, f"COPY {s}: not executable")
        ep = info["entrypoint"]
        if isinstance(ep, list) and ep and ep[0].startswith("/usr/local/"):
            if not any(dst == ep[0] for _, dst in info["copies"]):
                fail(rel, f"ENTRYPOINT {ep[0]} is not a file the Dockerfile copies in")
    scripts = sorted(glob.glob(os.path.join(project.cluster, "images", "*", "*.sh")))
    for s in scripts:
        r = run(["sh", "-n", s])
        if r.returncode != 0:
            fail(os.path.relpath(s, project.root), f"sh -n: {r.stderr.strip()}")
    if shutil.which("shellcheck"):
        r = run(["shellcheck", "-s", "sh"] + scripts)
        if r.returncode != 0:
            fail("", f"shellcheck: {r.stdout.strip()[:2000]}")
        r = run(["shellcheck", os.path.join(project.cluster, "images", "build")])
        if r.returncode != 0:
            fail("", f"shellcheck images/build: {r.stdout.strip()[:2000]}")
    else:
        skip("shellcheck: not installed", args)
    if not failures:
        ok(f"images: {n} Dockerfiles FROM debian:bookworm-slim, apt only, a fixed non-root uid, "
           f"their files in the context; {len(scripts)} scripts pass sh -n and shellcheck")
