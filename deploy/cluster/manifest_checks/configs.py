"""The configurations, in compose and in Kubernetes alike. check_configs: central.toml's keys
are ones mes-central's sources document, it goes through PgBouncer in transaction mode and
holds no password; pgbouncer.ini (PgBouncer 1.18's keys, transaction pooling, scram, the
millrace and millrace_replica databases through haproxy); haproxy.cfg's frontends pg_write,
pg_read, central_sync, central_http with their ports, backends and health checks;
patroni.yml (etcd3, the REST port HAProxy checks, scram only). compare: compose and
Kubernetes carry the same configurations (haproxy.cfg but for server lines, patroni.yml but
for etcd3.hosts), central and migrate environments and commands, two or more centrals."""

import os
import re

from .formats import haproxy_without_servers, ini_line, parse_conninfo
from .project import role_of
from .report import failures, fail, ok
from .yamlload import where


PGBOUNCER_118_KEYS = set("""
listen_addr listen_port unix_socket_dir unix_socket_mode unix_socket_group user pool_mode
max_client_conn default_pool_size min_pool_size reserve_pool_size reserve_pool_timeout
max_db_connections max_user_connections server_round_robin ignore_startup_parameters
disable_pqexec application_name_add_host conffile service_name job_name stats_period
auth_type auth_hba_file auth_file auth_user auth_query syslog syslog_ident syslog_facility
log_connections log_disconnections log_pooler_errors log_stats verbose admin_users
stats_users server_reset_query server_reset_query_always server_check_delay
server_check_query server_fast_close server_lifetime server_idle_timeout
server_connect_timeout server_login_retry client_login_timeout autodb_idle_timeout
dns_max_ttl dns_nxdomain_ttl dns_zone_check_period resolv_conf query_timeout
query_wait_timeout client_idle_timeout idle_transaction_timeout suspend_timeout pkt_buf
max_packet_size listen_backlog sbuf_loopcnt so_reuseport tcp_defer_accept
tcp_socket_buffer tcp_keepalive tcp_keepcnt tcp_keepidle tcp_keepintvl tcp_user_timeout
client_tls_sslmode client_tls_key_file client_tls_cert_file client_tls_ca_file
client_tls_protocols client_tls_ciphers client_tls_ecdhcurve client_tls_dheparams
server_tls_sslmode server_tls_ca_file server_tls_key_file server_tls_cert_file
server_tls_protocols server_tls_ciphers logfile pidfile
""".split())


def central_doc_keys(root):
    """The keys mes-central documents (and so reads): its own and the daemons' shared ones."""
    keys = set()
    for rel in (("central", "src", "central_config_docs.cc"), ("common", "src", "daemon_config.cc")):
        p = os.path.join(root, *rel)
        if not os.path.exists(p):
            return None
        keys |= set(re.findall(r'\{\s*"([a-z_]+\.[a-z_]+)"', open(p).read()))
    return keys


def flatten_toml(t, prefix=""):
    out = {}
    for k, v in t.items():
        if isinstance(v, dict):
            out.update(flatten_toml(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def check_configs(label, files, texts, root):
    """The rules each configuration must follow, wherever it is."""
    def at(key, line=None):
        t = texts.get(key)
        if not t:
            return f"{label} {key}"
        return f"{t[1]}:{t[2] + (line - 1 if line else 0)}"

    toml = files.get("central.toml")
    ini = files.get("pgbouncer.ini")
    hap = files.get("haproxy.cfg")
    pat = files.get("patroni.yml")
    for key, val in (("central.toml", toml), ("pgbouncer.ini", ini), ("haproxy.cfg", hap),
                     ("patroni.yml", pat)):
        if val is None:
            fail(label, f"no {key}")
    if not (toml and ini and hap and pat):
        return
    # central.toml
    keys = central_doc_keys(root)
    ttext = texts.get("central.toml", ("",))[0]

    def toml_line(key):
        table, _, name = key.rpartition(".")
        sec = ""
        for i, line in enumerate(ttext.splitlines(), 1):
            m = re.match(r"\s*\[([^\]]+)\]", line)
            if m:
                sec = m.group(1)
            elif sec == table and re.match(rf"\s*{re.escape(name)}\s*=", line):
                return i
        return None
    if keys is not None:
        for k in flatten_toml(toml):
            if k not in keys:
                fail(at("central.toml", toml_line(k)), f"central.toml: {k} is no key mes-central's sources "
                                         "document (central/src/central_config_docs.cc, common/src/daemon_config.cc)")
    db = toml.get("database") or {}
    if db.get("pooler") != "transaction":
        fail(at("central.toml"), "central.toml: [database] pooler must be \"transaction\" "
                                 "(database.url is PgBouncer in transaction mode)")
    url = parse_conninfo(db.get("url", ""))
    session = parse_conninfo(db.get("session_url", ""))
    replica = parse_conninfo(db.get("replica_url", ""))
    lport = int(ini.get("pgbouncer", {}).get("listen_port", 6432))
    if url.get("host") != "pgbouncer" or int(url.get("port", 5432)) != lport:
        fail(at("central.toml"), f"central.toml: database.url must be PgBouncer (pgbouncer:{lport})")
    dbs = ini.get("databases") or {}
    for name, ci in (("url", url), ("replica_url", replica)):
        if ci.get("host") == "pgbouncer" and ci.get("dbname") not in dbs:
            fail(at("central.toml"), f"central.toml: database.{name} names database "
                                     f"{ci.get('dbname')}, which pgbouncer.ini lacks")
    if session.get("host") == "pgbouncer" or session == url:
        fail(at("central.toml"), "central.toml: session_url goes through PgBouncer: LISTEN/NOTIFY "
                                 "and session locks need PostgreSQL itself")
    for ci, what in ((url, "url"), (session, "session_url"), (replica, "replica_url")):
        if "password" in ci:
            fail(at("central.toml"), f"central.toml: database.{what} holds a password")
    # pgbouncer.ini
    pb = ini.get("pgbouncer") or {}
    text = texts.get("pgbouncer.ini", ("", "", 1))[0]
    for k in pb:
        if k not in PGBOUNCER_118_KEYS:
            fail(at("pgbouncer.ini", ini_line(text, "pgbouncer", k)),
                 f"pgbouncer.ini: {k} is not a PgBouncer 1.18 setting")
    for k, want in (("pool_mode", "transaction"), ("auth_type", "scram-sha-256")):
        if pb.get(k) != want:
            fail(at("pgbouncer.ini", ini_line(text, "pgbouncer", k)),
                 f"pgbouncer.ini: {k} = {pb.get(k)!r}, wanted {want}")
    if not pb.get("auth_file"):
        fail(at("pgbouncer.ini"), "pgbouncer.ini: no auth_file")
    for want in ("millrace", "millrace_replica"):
        if want not in dbs:
            fail(at("pgbouncer.ini"), f"pgbouncer.ini: no database {want}")
    # haproxy.cfg
    sections = {(k, n): (line, body) for k, n, line, body in hap}
    fronts = {n: (line, body) for (k, n), (line, body) in sections.items() if k in ("frontend", "listen")}

    def opt(body, *words):
        return any(toks[: len(words)] == list(words) for _, toks in body)

    def bind_port(body):
        for _, toks in body:
            if toks[0] == "bind":
                return int(toks[1].rpartition(":")[2])
        return None

    def backend_of(name):
        line, body = fronts[name]
        if ("listen", name) in sections:
            return name, body
        for _, toks in body:
            if toks[0] == "default_backend" and ("backend", toks[1]) in sections:
                return toks[1], sections[("backend", toks[1])][1]
        return None, []

    want_ports = {"pg_write": int(session.get("port", 5000)), "pg_read": None,
                  "central_sync": int(str(toml.get("sync", {}).get("bind", ":7400")).rpartition(":")[2]),
                  "central_http": int(toml.get("http", {}).get("port", 8090))}
    for db_name, conn in dbs.items():
        ci = parse_conninfo(conn)
        if db_name == "millrace_replica":
            want_ports["pg_read"] = int(ci.get("port", 0))
            if ci.get("host") != "haproxy":
                fail(at("pgbouncer.ini"), "pgbouncer.ini: millrace_replica must go through haproxy")
        elif db_name == "millrace":
            if ci.get("host") != "haproxy" or int(ci.get("port", 0)) != want_ports["pg_write"]:
                fail(at("pgbouncer.ini"), "pgbouncer.ini: millrace must be haproxy's pg_write port "
                                          f"{want_ports['pg_write']} (where session_url goes)")
    for front, port in want_ports.items():
        if front not in fronts:
            fail(at("haproxy.cfg"), f"haproxy.cfg: no frontend {front}")
            continue
        line, body = fronts[front]
        if port is not None and bind_port(body) != port:
            fail(at("haproxy.cfg", line), f"haproxy.cfg: {front} binds {bind_port(body)}, wanted {port}")
        bname, bbody = backend_of(front)
        if bname is None:
            fail(at("haproxy.cfg", line), f"haproxy.cfg: {front} has no backend")
            continue
        servers = [(l, t) for l, t in bbody if t[0] in ("server", "server-template")]
        if not servers:
            fail(at("haproxy.cfg", line), f"haproxy.cfg: {front}'s backend {bname} has no servers")
        mode_http = opt(body, "mode", "http")
        for l, t in servers:
            if "check" not in t:
                fail(at("haproxy.cfg", l), f"haproxy.cfg: {bname} {t[1]}: no health check")
        if front in ("pg_write", "pg_read"):
            path = "/primary" if front == "pg_write" else "/replica"
            # OPTIONS: Patroni answers with GET's status and no body, so HAProxy's reset of a
            # check's connection never cuts a body Patroni is still writing.
            if mode_http or not opt(bbody, "option", "httpchk", "OPTIONS", path) or \
                    not opt(bbody, "http-check", "expect", "status", "200"):
                fail(at("haproxy.cfg", line), f"haproxy.cfg: {front} must be TCP with "
                                              f"'option httpchk OPTIONS {path}' and 'http-check expect status 200'")
            for l, t in servers:
                if "port" not in t or t[t.index("port") + 1] != "8008":
                    fail(at("haproxy.cfg", l), f"haproxy.cfg: {bname} {t[1]}: must check Patroni's "
                                               "REST port 8008")
                addr = t[3] if t[0] == "server-template" else t[2]
                if addr.rpartition(":")[2] != "5432":
                    fail(at("haproxy.cfg", l), f"haproxy.cfg: {bname} {t[1]}: not PostgreSQL's 5432")
        elif front == "central_sync":
            if mode_http or opt(bbody, "mode", "http") or not opt(bbody, "balance", "leastconn") \
                    or opt(bbody, "option", "httpchk"):
                fail(at("haproxy.cfg", line), "haproxy.cfg: central_sync must be TCP, balance "
                                              "leastconn, with TCP health checks")
        elif front == "central_http":
            if not mode_http or not opt(bbody, "mode", "http") or \
                    not opt(bbody, "option", "httpchk", "GET", "/ready"):
                fail(at("haproxy.cfg", line), "haproxy.cfg: central_http must be HTTP with "
                                              "'option httpchk GET /ready'")
        if front.startswith("central_"):
            for l, t in servers:
                addr = t[3] if t[0] == "server-template" else t[2]
                if int(addr.rpartition(":")[2]) != port:
                    fail(at("haproxy.cfg", l), f"haproxy.cfg: {bname} {t[1]}: port "
                                               f"{addr.rpartition(':')[2]} is not central's {port}")
    ds = [t for _, t in sections.get(("defaults", ""), (0, []))[1] if t[0] == "default-server"]
    if not any("init-addr" in t and "none" in t[t.index("init-addr") + 1].split(",") for t in ds):
        fail(at("haproxy.cfg"), "haproxy.cfg: default-server needs init-addr ...,none (start "
                                "without DNS; haproxy -c here)")
    # patroni.yml
    if "etcd3" not in pat:
        fail(at("patroni.yml"), "patroni.yml: the DCS must be etcd3")
    if str((pat.get("restapi") or {}).get("listen", "")).rpartition(":")[2] != "8008":
        fail(at("patroni.yml"), "patroni.yml: restapi.listen must be port 8008 (HAProxy checks it)")
    hba = (pat.get("postgresql") or {}).get("pg_hba") or []
    if any(re.search(r"\b(trust|md5|password)\b", h) for h in hba if not h.startswith("local")):
        fail(at("patroni.yml"), "patroni.yml: pg_hba allows network logins without scram-sha-256")
    params = ((pat.get("bootstrap") or {}).get("dcs") or {}).get("postgresql", {}).get("parameters", {})
    if params.get("password_encryption") != "scram-sha-256":
        fail(at("patroni.yml"), "patroni.yml: password_encryption must be scram-sha-256")
    if not failures:
        ok(f"{label}: central.toml, pgbouncer.ini, haproxy.cfg and patroni.yml agree with each "
           "other (ports, databases, frontends, checks, pooler)")


def compare(compose, k8s, project):
    cf, kf = compose.files, k8s.files
    if cf.get("central.toml") != kf.get("central.toml"):
        fail(compose.texts.get("central.toml", ("", "central.toml"))[1],
             "central.toml differs from kubernetes/central.yaml's ConfigMap: "
             f"{diff_dicts(cf.get('central.toml'), kf.get('central.toml'))}")
    if cf.get("pgbouncer.ini") != kf.get("pgbouncer.ini"):
        fail(compose.texts.get("pgbouncer.ini", ("", "pgbouncer.ini"))[1],
             "pgbouncer.ini differs from kubernetes/pgbouncer.yaml's ConfigMap: "
             f"{diff_dicts(cf.get('pgbouncer.ini'), kf.get('pgbouncer.ini'))}")
    a = haproxy_without_servers(cf.get("haproxy.cfg") or [])
    b = haproxy_without_servers(kf.get("haproxy.cfg") or [])
    if a != b:
        diff = next(((x, y) for x, y in zip(a, b) if x != y), (a[len(b):], b[len(a):]))
        fail(compose.texts.get("haproxy.cfg", ("", "haproxy.cfg"))[1],
             f"haproxy.cfg differs from kubernetes/haproxy.yaml's beyond server lines: {diff}")
    pa, pb = dict(cf.get("patroni.yml") or {}), dict(kf.get("patroni.yml") or {})
    pa.pop("etcd3", None), pb.pop("etcd3", None)
    if pa != pb:
        fail(compose.texts.get("patroni.yml", ("", "patroni.yml"))[1],
             f"patroni.yml differs from kubernetes/postgres.yaml's beyond etcd3: {diff_dicts(pa, pb)}")
    # the central and migrate containers
    services = compose.doc.get("services") or {}
    for role_args, what in ((["serve"], "central"), (["migrate"], "migrate")):
        csvcs = [s for s in services.values() if role_of(s.get("image")) == "central"
                 and list(s.get("command") or ["serve"])[:1] == role_args]
        kcs = [c for o in k8s.objects if o.get("kind") in ("Deployment", "Job")
               for c in o["spec"]["template"]["spec"].get("containers") or []
               if role_of(c.get("image")) == "central" and list(c.get("args") or ["serve"])[:1] == role_args]
        if not csvcs or not kcs:
            fail(compose.rel, f"no {what} in both compose and kubernetes")
            continue
        cenv = {str(k): str(v) for k, v in (csvcs[0].get("environment") or {}).items()}
        kenv = {e["name"]: e.get("value") for e in kcs[0].get("env") or []}
        if cenv != kenv:
            fail(where(csvcs[0], compose.rel), f"{what}: environment differs between compose and "
                                               f"kubernetes: {diff_dicts(cenv, kenv)}")
        if list(csvcs[0].get("command") or []) != list(kcs[0].get("args") or []):
            fail(where(csvcs[0], compose.rel), f"{what}: command {csvcs[0].get('command')} in "
                                               f"compose, args {kcs[0].get('args')} in kubernetes")
        for s in csvcs[1:]:
            a_ = {k: v for k, v in s.items() if k != "hostname"}
            b_ = {k: v for k, v in csvcs[0].items() if k != "hostname"}
            if a_ != b_:
                fail(where(s, compose.rel), f"{what}: the compose central services differ beyond "
                                            "their hostname")
    central = [o for o in k8s.objects if o.get("kind") == "Deployment"
               and any(role_of(c.get("image")) == "central" for c in o["spec"]["template"]["spec"]["containers"])]
    if not central or central[0]["spec"].get("replicas", 1) < 2:
        fail(where(central[0]) if central else k8s.dir, "the central Deployment needs replicas >= 2")
    n_central = len([s for s in services.values() if role_of(s.get("image")) == "central"
                     and list(s.get("command") or ["serve"])[:1] == ["serve"]])
    if n_central < 2:
        fail(compose.rel, "compose needs two or more central services")
    if not failures:
        ok("compose and kubernetes: the same central.toml, pgbouncer.ini, haproxy.cfg (but for "
           "servers), patroni.yml (but for etcd3.hosts), central and migrate environments")


def diff_dicts(a, b, prefix=""):
    if not isinstance(a, dict) or not isinstance(b, dict):
        return f"{prefix or 'value'}: {a!r} vs {b!r}"
    for k in sorted(set(a) | set(b), key=str):
        if a.get(k) != b.get(k):
            return diff_dicts(a.get(k), b.get(k), f"{prefix}{k}.") if isinstance(a.get(k), dict) \
                else f"{prefix}{k}: {a.get(k)!r} vs {b.get(k)!r}"
    return "?"
