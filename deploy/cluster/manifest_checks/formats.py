"""The formats the cluster's configurations are written in, parsed for the checks: libpq
conninfo strings, INI (pgbouncer.ini, with the line of a key), haproxy.cfg's sections,
Kubernetes quantities; and wiring_endpoints, every host:port a set of configurations names
(central.toml, pgbouncer.ini, haproxy.cfg, patroni.yml), which the compose and the
Kubernetes checks each resolve against their services."""

import configparser
import re
import shlex


def parse_conninfo(s):
    """libpq 'key=value ...' (no URIs here)."""
    out = {}
    for tok in shlex.split(s):
        if "=" not in tok:
            raise ValueError(f"not key=value: {tok!r}")
        k, v = tok.split("=", 1)
        out[k] = v
    return out


def parse_ini(text, name):
    cp = configparser.ConfigParser(interpolation=None, strict=True, delimiters=("=",),
                                   comment_prefixes=(";", "#"), inline_comment_prefixes=None,
                                   empty_lines_in_values=False)
    cp.optionxform = str
    cp.read_string(text, source=name)
    return {s: dict(cp.items(s)) for s in cp.sections()}


def ini_line(text, section, key):
    sec = None
    for i, line in enumerate(text.splitlines(), 1):
        m = re.match(r"\s*\[([^\]]+)\]", line)
        if m:
            sec = m.group(1)
        elif sec == section and re.match(rf"\s*{re.escape(key)}\s*=", line):
            return i
    return 0


def parse_haproxy(text):
    """[(kind, name, header_line, [(line, tokens)])]"""
    sections = []
    for i, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].rstrip()
        if not line.strip():
            continue
        toks = line.split()
        if not raw[0].isspace():
            sections.append((toks[0], toks[1] if len(toks) > 1 else "", i, []))
        elif sections:
            sections[-1][3].append((i, toks))
    return sections


def haproxy_without_servers(sections):
    return [(k, n, [t for _, t in body if t[0] not in ("server", "server-template")])
            for k, n, _, body in sections]


QTY = re.compile(r"^([0-9]+(\.[0-9]+)?)(m|k|Ki|Mi|Gi|Ti|M|G|T)?$")
QTY_FACTOR = {None: 1, "m": 1e-3, "k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
              "Ki": 1024, "Mi": 1024 ** 2, "Gi": 1024 ** 3, "Ti": 1024 ** 4}


def qty(v):
    m = QTY.match(str(v))
    if not m:
        return None
    return float(m.group(1)) * QTY_FACTOR[m.group(3)]


def wiring_endpoints(files, texts, objects=None, compose_services=None):
    """(label, host, port, check_port, where) for every host:port a configuration names."""
    out = []

    def at(key):
        t = texts.get(key)
        return f"{t[1]}:{t[2]}" if t else key

    toml = files.get("central.toml") or {}
    for k in ("url", "session_url", "replica_url"):
        v = (toml.get("database") or {}).get(k)
        if v:
            ci = parse_conninfo(v)
            out.append((f"central.toml database.{k}", ci.get("host", ""), int(ci.get("port", 5432)),
                        None, at("central.toml")))
    ini = files.get("pgbouncer.ini") or {}
    for db, conn in (ini.get("databases") or {}).items():
        ci = parse_conninfo(conn)
        out.append((f"pgbouncer.ini database {db}", ci.get("host", ""), int(ci.get("port", 5432)),
                    None, at("pgbouncer.ini")))
    for kind, name, _, body in files.get("haproxy.cfg") or []:
        for line, toks in body:
            if toks[0] in ("server", "server-template"):
                addr = toks[3] if toks[0] == "server-template" else toks[2]
                host, _, port = addr.rpartition(":")
                chk = int(toks[toks.index("port") + 1]) if "port" in toks else None
                loc = at("haproxy.cfg")
                if ":" in loc and texts.get("haproxy.cfg"):
                    t = texts["haproxy.cfg"]
                    loc = f"{t[1]}:{t[2] + line - 1}"
                out.append((f"haproxy.cfg {kind} {name} {toks[1]}", host, int(port), chk, loc))
    pat = files.get("patroni.yml") or {}
    for h in ((pat.get("etcd3") or {}).get("hosts") or []):
        host, _, port = str(h).rpartition(":")
        out.append(("patroni.yml etcd3.hosts", host, int(port), None, at("patroni.yml")))
    return out
