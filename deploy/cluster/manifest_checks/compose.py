"""The Docker Compose file (deploy/cluster/compose/compose.yaml): it parses; known keys;
images deploy/cluster/images builds; depends_on names services, with no cycle
(service_healthy needs a healthcheck, service_completed_successfully a one-shot); every
volume, secret and config is declared and used, config files exist and parse, secret files
are ones make-secrets makes; host ports do not collide; the hardening (read_only, cap_drop
ALL, no-new-privileges, the image's uid:gid, tmpfs owned by it); each daemon's files against
its mounts; and every host:port the configurations name is a service exposing that port."""

import configparser
import os
import shlex
import tomllib

from .formats import parse_conninfo, parse_haproxy, parse_ini, wiring_endpoints
from .project import Mount, check_daemon_paths, role_of
from .report import failures, fail, ok
from .yamlload import kwhere, load_yaml_docs, where


COMPOSE_TOP = {"name", "services", "volumes", "secrets", "configs", "networks", "version"}
COMPOSE_SERVICE = {
    "image", "user", "command", "entrypoint", "environment", "env_file", "depends_on",
    "volumes", "tmpfs", "secrets", "configs", "ports", "expose", "healthcheck", "restart",
    "read_only", "cap_drop", "cap_add", "security_opt", "init", "hostname", "shm_size",
    "stop_grace_period", "stop_signal", "networks", "working_dir", "labels", "ulimits",
    "logging", "deploy", "mem_limit", "cpus", "container_name", "extra_hosts", "profiles"}
HEALTHCHECK = {"test", "interval", "timeout", "retries", "start_period", "start_interval",
               "disable"}
CONDITIONS = {"service_started", "service_healthy", "service_completed_successfully"}


class Compose:
    def __init__(self, project):
        self.project = project
        self.dir = os.path.join(project.cluster, "compose")
        self.path = os.path.join(self.dir, "compose.yaml")
        self.rel = os.path.relpath(self.path, project.root)
        self.doc = None
        self.files = {}
        self.texts = {}

    def load(self):
        if not os.path.exists(self.path):
            fail(self.rel, "missing")
            return False
        docs = load_yaml_docs(self.path, self.rel)
        if docs is None:
            return False
        if len(docs) != 1 or not isinstance(docs[0][0], dict):
            fail(self.rel, "must be one YAML mapping")
            return False
        self.doc = docs[0][0]
        ok(f"compose: {self.rel} parses")
        return True

    def load_files(self):
        configs = self.doc.get("configs") or {}
        for name, c in configs.items():
            f = (c or {}).get("file")
            if f is None and "content" in (c or {}):
                text, key = c["content"], name
            elif f is None:
                fail(kwhere(configs, name), f"config {name}: no file or content")
                continue
            else:
                p = os.path.normpath(os.path.join(self.dir, f))
                if not os.path.exists(p):
                    fail(kwhere(configs, name), f"config {name}: {f} does not exist")
                    continue
                text, key = open(p).read(), os.path.basename(p)
            relp = os.path.relpath(os.path.join(self.dir, f), self.project.root) if f else self.rel
            self.texts[key] = (text, relp, 1)
            try:
                if key.endswith(".toml"):
                    self.files[key] = tomllib.loads(text)
                elif key.endswith(".ini"):
                    self.files[key] = parse_ini(text, key)
                elif key.endswith((".yml", ".yaml")):
                    docs = load_yaml_docs(p, relp)
                    self.files[key] = docs[0][0] if docs else None
                elif key.endswith(".cfg"):
                    self.files[key] = parse_haproxy(text)
            except (tomllib.TOMLDecodeError, configparser.Error) as e:
                fail(relp, f"does not parse: {e}")

    def check(self):
        d = self.doc
        for k in d:
            if k not in COMPOSE_TOP and not str(k).startswith("x-"):
                fail(kwhere(d, k, self.rel), f"unknown top-level key {k!r}")
        services = d.get("services") or {}
        volumes = d.get("volumes") or {}
        secrets = d.get("secrets") or {}
        configs = d.get("configs") or {}
        for name, s in secrets.items():
            f = (s or {}).get("file", "")
            if not f.startswith("./secrets/"):
                fail(kwhere(secrets, name), f"secret {name}: {f} is not in ./secrets/ (make-secrets')")
            elif os.path.basename(f) not in self.project.made_secrets:
                fail(kwhere(secrets, name), f"secret {name}: {f} is no file make-secrets makes")
        host_ports = {}
        graph = {}
        for sname, svc in services.items():
            at = where(svc, self.rel)
            what = f"service {sname}"
            if not isinstance(svc, dict):
                fail(at, f"{what}: not a mapping")
                continue
            for k in svc:
                if k not in COMPOSE_SERVICE:
                    fail(kwhere(svc, k, at), f"{what}: unknown key {k!r}")
            image = svc.get("image")
            info = self.project.images.get(image)
            if info is None:
                fail(kwhere(svc, "image", at), f"{what}: image {image!r} is none of "
                                               f"deploy/cluster/images' ({', '.join(self.project.images)})")
            # hardening
            if svc.get("read_only") is not True:
                fail(at, f"{what}: read_only must be true")
            if "ALL" not in (svc.get("cap_drop") or []):
                fail(at, f"{what}: cap_drop must include ALL")
            if svc.get("cap_add"):
                fail(at, f"{what}: adds capabilities")
            if "no-new-privileges:true" not in (svc.get("security_opt") or []):
                fail(at, f"{what}: security_opt must include no-new-privileges:true")
            user = str(svc.get("user", ""))
            if info and info["uid"] is not None and user != f"{info['uid']}:{info['gid']}":
                fail(kwhere(svc, "user", at), f"{what}: user {user!r}, but its image's user is "
                                              f"{info['uid']}:{info['gid']}")
            # depends_on
            deps = svc.get("depends_on") or {}
            if isinstance(deps, list):
                deps = {x: {"condition": "service_started"} for x in deps}
            graph[sname] = set(deps)
            for dep, spec in deps.items():
                cond = (spec or {}).get("condition", "service_started")
                if dep not in services:
                    fail(kwhere(svc, "depends_on", at), f"{what}: depends_on {dep!r}, which is no service")
                    continue
                if cond not in CONDITIONS:
                    fail(kwhere(svc, "depends_on", at), f"{what}: depends_on {dep}: condition {cond!r}")
                if cond == "service_healthy" and not (services[dep] or {}).get("healthcheck"):
                    fail(kwhere(svc, "depends_on", at), f"{what}: waits for {dep} to be healthy, "
                                                        "which has no healthcheck")
                if cond == "service_completed_successfully" and \
                        str((services[dep] or {}).get("restart", "no")) not in ("no", "on-failure"):
                    fail(kwhere(svc, "depends_on", at), f"{what}: waits for {dep} to complete, but "
                                                        f"{dep} restarts {services[dep].get('restart')}")
            hc = svc.get("healthcheck")
            if hc:
                for k in hc:
                    if k not in HEALTHCHECK:
                        fail(kwhere(hc, k, at), f"{what}: healthcheck.{k}: unknown")
                test = hc.get("test")
                if not (isinstance(test, list) and test and test[0] in ("CMD", "CMD-SHELL", "NONE")):
                    fail(kwhere(hc, "test", at), f"{what}: healthcheck.test must be [CMD, ...]")
            # mounts
            mounts = []
            for v in svc.get("volumes") or []:
                if isinstance(v, dict):
                    src, tgt, ro = v.get("source"), v.get("target"), bool(v.get("read_only"))
                    vtype = v.get("type", "volume")
                else:
                    parts = str(v).split(":")
                    src, tgt = parts[0], parts[1] if len(parts) > 1 else parts[0]
                    ro = len(parts) > 2 and "ro" in parts[2].split(",")
                    vtype = "bind" if src.startswith((".", "/", "~")) else "volume"
                if vtype == "volume" and src not in volumes:
                    fail(kwhere(svc, "volumes", at), f"{what}: volume {src!r} is not declared")
                if vtype == "bind" and not os.path.exists(os.path.join(self.dir, src)):
                    fail(kwhere(svc, "volumes", at), f"{what}: bind source {src} does not exist")
                mounts.append(Mount(tgt, "volume", None, not ro, src))
            for t in svc.get("tmpfs") or []:
                path, _, opts = str(t).partition(":")
                mounts.append(Mount(path, "scratch", None, True, "tmpfs"))
                user_uid = user.split(":")[0]
                if opts and f"uid={user_uid}" not in opts.split(",") and "mode=1777" not in opts:
                    fail(kwhere(svc, "tmpfs", at), f"{what}: tmpfs {path} is not the user's "
                                                   f"(uid={user_uid}) nor mode=1777")
            for kind, table, default_dir in (("secrets", secrets, "/run/secrets"),
                                             ("configs", configs, "/")):
                for ref in svc.get(kind) or []:
                    src = ref if isinstance(ref, str) else ref.get("source")
                    tgt = None if isinstance(ref, str) else ref.get("target")
                    if src not in table:
                        fail(kwhere(svc, kind, at), f"{what}: {kind[:-1]} {src!r} is not declared")
                        continue
                    tgt = tgt or f"{default_dir.rstrip('/')}/{src}"
                    if not tgt.startswith("/"):
                        tgt = f"/run/secrets/{tgt}" if kind == "secrets" else f"/{tgt}"
                    d_, f_ = os.path.split(tgt)
                    mounts.append(Mount(d_, "secret" if kind == "secrets" else "config", {f_}, False,
                                        src))
            # merge mounts of the same directory (several secrets in /run/secrets)
            merged = {}
            for m in mounts:
                if m.path in merged and merged[m.path].kind == m.kind and m.files is not None \
                        and merged[m.path].files is not None:
                    merged[m.path].files |= m.files
                elif m.path in merged:
                    fail(at, f"{what}: two mounts at {m.path}")
                else:
                    merged[m.path] = m
            mounts = list(merged.values())
            env = {str(k): str(v) for k, v in (svc.get("environment") or {}).items()}
            cmd = svc.get("command")
            args = list(cmd) if isinstance(cmd, list) else (shlex.split(cmd) if cmd else
                                                            list((info or {}).get("cmd") or []))
            check_daemon_paths(role_of(image), env, args, mounts, self.project, self.files, at, what)
            # ports
            for p in svc.get("ports") or []:
                if isinstance(p, dict):
                    ip, hp, proto = p.get("host_ip", "0.0.0.0"), p.get("published"), p.get("protocol", "tcp")
                else:
                    s, _, proto = str(p).partition("/")
                    proto = proto or "tcp"
                    parts = s.split(":")
                    ip = parts[0] if len(parts) == 3 else "0.0.0.0"
                    hp = parts[-2] if len(parts) >= 2 else None
                if hp is None:
                    continue
                for q in range(int(str(hp).split("-")[0]), int(str(hp).split("-")[-1]) + 1):
                    for (ip2, q2, proto2), other in host_ports.items():
                        if q2 == q and proto2 == proto and (ip == ip2 or "0.0.0.0" in (ip, ip2)):
                            fail(kwhere(svc, "ports", at), f"{what}: host port {ip}:{q}/{proto} "
                                                           f"collides with {other}'s")
                    host_ports[(ip, q, proto)] = sname
        # cycles
        state = {}

        def visit(n, stack):
            if state.get(n) == 1:
                fail(self.rel, f"depends_on cycle: {' -> '.join(stack + [n])}")
                return
            if state.get(n) == 2:
                return
            state[n] = 1
            for m in graph.get(n, ()):
                visit(m, stack + [n])
            state[n] = 2
        for n in graph:
            visit(n, [])
        for kind, table in (("volumes", volumes), ("secrets", secrets), ("configs", configs)):
            usedset = set()
            for svc in services.values():
                for ref in (svc or {}).get(kind) or []:
                    if kind == "volumes":
                        usedset.add(ref.get("source") if isinstance(ref, dict) else str(ref).split(":")[0])
                    else:
                        usedset.add(ref if isinstance(ref, str) else ref.get("source"))
            for name in table:
                if name not in usedset:
                    fail(kwhere(table, name, self.rel), f"{kind[:-1]} {name} is declared but no "
                                                        "service uses it")
        if not failures:
            ok(f"compose: {len(services)} services: images, depends_on, volumes, secrets, configs, "
               "host ports, hardening, daemon paths")
        self.check_wiring(services)

    def check_wiring(self, services):
        n = 0
        for label, host, port, chk, at in wiring_endpoints(self.files, self.texts):
            n += 1
            svc = services.get(host)
            if svc is None:
                fail(at, f"{label}: {host} is no service of compose.yaml")
                continue
            exposed = {int(str(e).split("/")[0]) for e in svc.get("expose") or []}
            for p in svc.get("ports") or []:
                exposed.add(int(str(p.get("target") if isinstance(p, dict) else str(p).split(":")[-1]).split("/")[0]))
            for p in (port, chk):
                if p is not None and p not in exposed:
                    fail(at, f"{label}: {host} exposes no port {p} (expose: {sorted(exposed)})")
        for sname, svc in services.items():
            cmd = svc.get("command") or []
            if isinstance(cmd, list) and cmd[:1] == ["migrate"] and "--db" in cmd:
                ci = parse_conninfo(cmd[cmd.index("--db") + 1])
                n += 1
                target = services.get(ci.get("host"))
                if target is None:
                    fail(kwhere(svc, "command"), f"service {sname}: --db host {ci.get('host')} is no "
                                                 "service")
                elif str(ci.get("port", 5432)) not in [str(e).split("/")[0] for e in
                                                       target.get("expose") or []]:
                    fail(kwhere(svc, "command"), f"service {sname}: --db port {ci.get('port')} is not "
                                                 f"exposed by {ci.get('host')}")
        if not failures:
            ok(f"compose: {n} host:port references in the configurations name services that "
               "expose those ports")
