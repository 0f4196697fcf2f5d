"""Kubernetes Services, PodDisruptionBudgets and the host:port wiring: every Service selects
pods and targets ports they have, several ports have distinct names, a StatefulSet's
governing Service is headless and selects its pods; PDBs select pods and leave a drain
possible; and every host:port a configuration names (central.toml, pgbouncer.ini,
haproxy.cfg, patroni.yml, migrate's --db) is a Service, or a StatefulSet pod, in the
namespace with that port."""

import re

from .formats import parse_conninfo, wiring_endpoints
from .report import failures, fail, ok
from .yamlload import kwhere, where


class K8sServices:
    """The Service, PDB and wiring checks of K8s (a base class of it: they use its objects
    and pods)."""

    # -- services, PDBs

    def pods_selected(self, selector):
        return [(o, ps, labels, r) for o, ps, labels, r in self.pods
                if selector and all(labels.get(k) == v for k, v in selector.items())]

    @staticmethod
    def pod_ports(podspec):
        names, numbers = {}, set()
        for c in podspec.get("containers") or []:
            for p in c.get("ports") or []:
                if p.get("name"):
                    names[p["name"]] = p.get("containerPort")
                numbers.add(p.get("containerPort"))
        return names, numbers

    def service(self, name):
        return next((o for o in self.objects if o.get("kind") == "Service"
                     and o["metadata"]["name"] == name), None)

    def service_target(self, svc, port):
        """The container port number a Service port number reaches in its pods, or None."""
        for p in (svc.get("spec") or {}).get("ports") or []:
            if p.get("port") == port:
                target = p.get("targetPort", p.get("port"))
                for _, ps, _, _ in self.pods_selected((svc.get("spec") or {}).get("selector")):
                    names, numbers = self.pod_ports(ps)
                    if isinstance(target, str) and target in names:
                        return names[target]
                    if target in numbers:
                        return target
        return None

    def check_services(self):
        count = 0
        for o in self.objects:
            if o.get("kind") != "Service":
                continue
            count += 1
            spec = o.get("spec") or {}
            name = o["metadata"]["name"]
            at = where(o)
            sel = spec.get("selector")
            t = spec.get("type", "ClusterIP")
            if t not in ("ClusterIP", "NodePort", "LoadBalancer"):
                fail(at, f"Service {name}: type {t!r}")
            pods = self.pods_selected(sel)
            if not sel:
                fail(at, f"Service {name}: no selector")
            elif not pods:
                fail(kwhere(spec, "selector", at), f"Service {name}: selector {dict(sel)} matches no "
                                                   "pod template")
            ports = spec.get("ports") or []
            if not ports:
                fail(at, f"Service {name}: no ports")
            pnames = [p.get("name") for p in ports]
            if len(ports) > 1 and (None in pnames or len(set(pnames)) != len(pnames)):
                fail(at, f"Service {name}: several ports need distinct names")
            for p in ports:
                target = p.get("targetPort", p.get("port"))
                if not isinstance(p.get("port"), int) or not 0 < p["port"] < 65536:
                    fail(where(p, at), f"Service {name}: port {p.get('port')!r}")
                for w, ps, _, _ in pods:
                    names, numbers = self.pod_ports(ps)
                    if not (target in names or target in numbers):
                        fail(where(p, at), f"Service {name}: targetPort {target!r} is no containerPort "
                                           f"of {w['kind']} {w['metadata']['name']}")
        for o, ps, labels, _ in self.pods:
            if o.get("kind") != "StatefulSet":
                continue
            sn = o["spec"].get("serviceName")
            svc = self.service(sn)
            if svc is None:
                fail(where(o), f"StatefulSet {o['metadata']['name']}: serviceName {sn} is no Service")
            elif svc["spec"].get("clusterIP") != "None":
                fail(where(svc), f"Service {sn}: the governing Service of a StatefulSet must be "
                                 "headless (clusterIP: None)")
            elif o not in [w for w, _, _, _ in self.pods_selected(svc["spec"].get("selector"))]:
                fail(where(svc), f"Service {sn} does not select StatefulSet {o['metadata']['name']}'s pods")
        ok(f"kubernetes: {count} Services select pods and target their ports; StatefulSets' "
           "governing Services are headless") if not failures else None

    def check_pdbs(self):
        for o in self.objects:
            if o.get("kind") != "PodDisruptionBudget":
                continue
            spec = o.get("spec") or {}
            at = where(o)
            if ("minAvailable" in spec) == ("maxUnavailable" in spec):
                fail(at, "PodDisruptionBudget: exactly one of minAvailable and maxUnavailable")
            pods = self.pods_selected((spec.get("selector") or {}).get("matchLabels"))
            if not pods:
                fail(at, f"PodDisruptionBudget {o['metadata']['name']} selects no pods")
            for w, _, _, replicas in pods:
                if isinstance(spec.get("minAvailable"), int) and spec["minAvailable"] >= replicas:
                    fail(at, f"PodDisruptionBudget {o['metadata']['name']}: minAvailable "
                             f"{spec['minAvailable']} of {replicas} replicas blocks every drain")

    # -- host:port wiring

    def resolve(self, host, port, check_port=None):
        """Whether host:port reaches a pod port: a Service (short name or FQDN) or a
        StatefulSet pod (pod.service[.ns.svc.cluster.local])."""
        ns = self.namespace
        h = host
        for suffix in (f".{ns}.svc.cluster.local", f".{ns}.svc", f".{ns}"):
            if h.endswith(suffix):
                h = h[: -len(suffix)]
                break
        else:
            if h.endswith(".svc.cluster.local"):
                return f"{host} is in another namespace than {ns}"
        parts = h.split(".")
        if len(parts) == 1:
            svc = self.service(parts[0])
            if svc is None:
                return f"{host}: no Service {parts[0]}"
            if self.service_target(svc, port) is None:
                return f"{host}: Service {parts[0]} has no port {port} reaching a container port"
            return None
        if len(parts) == 2:
            pod, sname = parts
            svc = self.service(sname)
            if svc is None:
                return f"{host}: no Service {sname}"
            for w, ps, _, replicas in self.pods:
                if w.get("kind") == "StatefulSet" and w["spec"].get("serviceName") == sname:
                    m = re.match(rf"^{re.escape(w['metadata']['name'])}-(\d+)$", pod)
                    if not m:
                        continue
                    if int(m.group(1)) >= replicas:
                        return f"{host}: {w['metadata']['name']} has {replicas} replicas"
                    _, numbers = self.pod_ports(ps)
                    for p in (port, check_port):
                        if p is not None and p not in numbers:
                            return f"{host}: port {p} is no containerPort of {w['metadata']['name']}"
                    return None
            return f"{host}: no StatefulSet pod {pod} governed by Service {sname}"
        return f"{host}: not a name this namespace resolves"

    def check_wiring(self):
        n = 0
        for label, host, port, chk, at in wiring_endpoints(self.files, self.texts, self.objects):
            n += 1
            err = self.resolve(host, port, chk)
            if err:
                fail(at, f"{label}: {err}")
        for o, ps, _, _ in self.pods:
            for c in ps.get("containers") or []:
                a = list(c.get("args") or [])
                if a[:1] == ["migrate"] and "--db" in a:
                    ci = parse_conninfo(a[a.index("--db") + 1])
                    n += 1
                    err = self.resolve(ci.get("host", ""), int(ci.get("port", 5432)))
                    if err:
                        fail(kwhere(c, "args", where(c)), f"{o['kind']} {o['metadata']['name']}: "
                                                          f"migrate --db: {err}")
        if not failures:
            ok(f"kubernetes: {n} host:port references in the configurations reach Services or "
               "StatefulSet pods with those ports")
