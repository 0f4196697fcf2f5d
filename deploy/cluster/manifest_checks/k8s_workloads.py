"""Kubernetes workloads (Deployments, StatefulSets, Jobs) and their pods: selectors that
match their templates, replicas, restart policies; each volume has one known source, the
ConfigMap, Secret (and keys) or PVC it names exists, no secret is readable by others, every
volume is mounted; each container's image is one deploy/cluster/images builds, with
requests and limits, valid ports, readiness and liveness probes on its own ports, env
entries and $(VAR) references that resolve, mounts of the pod's volumes; the restricted Pod
Security Standard, read-only root file systems, the uid/gid its image makes; and each
daemon's files against the container's mounts (project.check_daemon_paths)."""

import re

from .formats import qty
from .k8s_schema import ACCESS_MODES, DNS_LABEL, ENV_NAME, HANDLERS, IANA_SVC, VOLUME_KINDS
from .project import Mount, check_daemon_paths, role_of
from .report import failures, fail, ok
from .yamlload import kwhere, where


class K8sWorkloads:
    """The workload checks of K8s (a base class of it: they use its objects and tables)."""

    # -- pods

    def check_workloads(self):
        for o in self.objects:
            kind = o.get("kind")
            if kind not in ("Deployment", "StatefulSet", "Job"):
                continue
            spec = o.get("spec") or {}
            tmpl = spec.get("template") or {}
            labels = (tmpl.get("metadata") or {}).get("labels") or {}
            name = o["metadata"]["name"]
            what = f"{kind} {name}"
            sel = (spec.get("selector") or {}).get("matchLabels")
            if kind != "Job" or "selector" in spec:
                if not sel:
                    fail(where(o), f"{what}: no selector.matchLabels")
                elif any(labels.get(k) != v for k, v in sel.items()):
                    fail(kwhere(spec, "selector"), f"{what}: selector {dict(sel)} does not match "
                                                   f"its pod template's labels {dict(labels)}")
            replicas = spec.get("replicas", 1) if kind != "Job" else 1
            if kind != "Job" and (not isinstance(replicas, int) or replicas < 1):
                fail(where(o), f"{what}: replicas {replicas!r}")
            podspec = tmpl.get("spec") or {}
            self.pods.append((o, podspec, labels, replicas))
            self.check_pod(o, podspec, what)
        if not failures:
            ok(f"kubernetes: {len(self.pods)} workloads: selectors, images, resources, probes, "
               "volumes, security contexts, daemon paths")

    def volume_mounts(self, o, podspec, c):
        """Mount objects for container c."""
        vols = {v.get("name"): v for v in podspec.get("volumes") or []}
        vcts = {(t.get("metadata") or {}).get("name") for t in
                (o.get("spec") or {}).get("volumeClaimTemplates") or []}
        mounts = []
        for vm in c.get("volumeMounts") or []:
            n, path, ro = vm.get("name"), vm.get("mountPath", ""), bool(vm.get("readOnly"))
            if n in vcts:
                mounts.append(Mount(path, "volume", None, not ro, n))
                continue
            v = vols.get(n)
            if v is None:
                continue
            if "configMap" in v:
                cm = v["configMap"]
                data = self.configmaps.get(cm.get("name"), {})
                files = ({i["path"] for i in cm["items"]} if cm.get("items") else set(data))
                mounts.append(Mount(path, "config", files, False, n))
            elif "secret" in v:
                s = v["secret"]
                files = ({i["path"] for i in s["items"]} if s.get("items")
                         else set(self.secrets.get(s.get("secretName"), ())))
                mounts.append(Mount(path, "secret", files, False, n))
            elif "projected" in v:
                files, kinds = set(), set()
                for src in v["projected"].get("sources") or []:
                    for k, (kind, table) in (("secret", ("secret", self.secrets)),
                                             ("configMap", ("config", self.configmaps))):
                        if k in src:
                            kinds.add(kind)
                            s = src[k]
                            files |= ({i["path"] for i in s["items"]} if s.get("items")
                                      else set(table.get(s.get("name"), ())))
                mounts.append(Mount(path, kinds.pop() if len(kinds) == 1 else "mixed", files,
                                    False, n))
            elif "emptyDir" in v:
                mounts.append(Mount(path, "scratch", None, not ro, n))
            elif "persistentVolumeClaim" in v:
                mounts.append(Mount(path, "volume", None, not ro, n))
        return mounts

    def check_pod(self, o, podspec, what):
        at = where(podspec, where(o))
        kind = o.get("kind")
        containers = list(podspec.get("containers") or [])
        inits = list(podspec.get("initContainers") or [])
        vols = {}
        for v in podspec.get("volumes") or []:
            n = v.get("name")
            if n in vols:
                fail(where(v), f"{what}: volume {n} twice")
            vols[n] = v
            if not DNS_LABEL.match(str(n)):
                fail(where(v), f"{what}: volume name {n!r} is not a DNS-1123 label")
            kinds = [k for k in v if k != "name"]
            if len(kinds) != 1 or kinds[0] not in VOLUME_KINDS:
                fail(where(v), f"{what}: volume {n} must have exactly one source of "
                               f"{VOLUME_KINDS} (has {kinds})")
            self.check_volume_refs(v, what)
        vcts = {}
        for t in (o.get("spec") or {}).get("volumeClaimTemplates") or []:
            n = (t.get("metadata") or {}).get("name")
            vcts[n] = t
            for m in (t.get("spec") or {}).get("accessModes") or []:
                if m not in ACCESS_MODES:
                    fail(where(t), f"{what}: access mode {m!r}")
        used = set()
        psc = podspec.get("securityContext") or {}
        if kind == "Job" and podspec.get("restartPolicy") not in ("OnFailure", "Never"):
            fail(at, f"{what}: a Job's pods need restartPolicy OnFailure or Never")
        if kind != "Job" and podspec.get("restartPolicy", "Always") != "Always":
            fail(at, f"{what}: restartPolicy must be Always")
        if podspec.get("automountServiceAccountToken") is not False:
            fail(at, f"{what}: automountServiceAccountToken should be false (nothing here "
                     "talks to the Kubernetes API)")
        for c in containers + inits:
            self.check_container(o, podspec, c, what, long_running=(kind != "Job" and c in containers),
                                 vols=vols, vcts=vcts, psc=psc)
            for vm in c.get("volumeMounts") or []:
                used.add(vm.get("name"))
        for n in set(vols) | set(vcts):
            if n not in used:
                fail(where(vols.get(n) or vcts.get(n)), f"{what}: volume {n} is mounted by no container")
        # The restricted Pod Security Standard, at pod level where it applies to all.
        sec = psc.get("seccompProfile", {}).get("type")
        if sec not in ("RuntimeDefault", "Localhost"):
            fail(at, f"{what}: securityContext.seccompProfile.type must be RuntimeDefault")
        if psc.get("runAsNonRoot") is not True:
            fail(at, f"{what}: securityContext.runAsNonRoot must be true")
        if psc.get("runAsUser") == 0:
            fail(at, f"{what}: runs as root")

    def check_volume_refs(self, v, what):
        at = where(v)
        def keys_exist(table, name, items, kind):
            if name not in table:
                fail(at, f"{what}: {kind} {name} does not exist in the manifests "
                         "(nor the kustomization's generators)")
                return
            for i in items or []:
                if i.get("key") not in table[name]:
                    fail(where(i, at), f"{what}: {kind} {name} has no key {i.get('key')!r}")
                if not re.match(r"^[^/][^\0]*$", i.get("path", "")) or ".." in i.get("path", "").split("/"):
                    fail(where(i, at), f"{what}: item path {i.get('path')!r}")
        def mode_ok(mode, secret):
            if mode is None:
                return
            if not 0 <= mode <= 0o777:
                fail(at, f"{what}: mode {mode} is not between 0 and 0777")
            elif secret and mode & 0o007:
                fail(at, f"{what}: a secret readable by others (mode {mode:o})")
        if "configMap" in v:
            keys_exist(self.configmaps, v["configMap"].get("name"), v["configMap"].get("items"),
                       "ConfigMap")
            mode_ok(v["configMap"].get("defaultMode"), False)
        if "secret" in v:
            keys_exist(self.secrets, v["secret"].get("secretName"), v["secret"].get("items"), "Secret")
            mode_ok(v["secret"].get("defaultMode", 0o644), True)
        if "projected" in v:
            secret = any("secret" in s for s in v["projected"].get("sources") or [])
            mode_ok(v["projected"].get("defaultMode", 0o644), secret)
            for s in v["projected"].get("sources") or []:
                if "secret" in s:
                    keys_exist(self.secrets, s["secret"].get("name"), s["secret"].get("items"), "Secret")
                if "configMap" in s:
                    keys_exist(self.configmaps, s["configMap"].get("name"),
                               s["configMap"].get("items"), "ConfigMap")
        if "persistentVolumeClaim" in v and v["persistentVolumeClaim"].get("claimName") not in self.pvcs:
            fail(at, f"{what}: PersistentVolumeClaim {v['persistentVolumeClaim'].get('claimName')} "
                     "does not exist")

    def check_container(self, o, podspec, c, what, long_running, vols, vcts, psc):
        name = c.get("name")
        at = where(c)
        what = f"{what} container {name}"
        if not DNS_LABEL.match(str(name)):
            fail(at, f"{what}: name is not a DNS-1123 label")
        image = c.get("image")
        info = self.project.images.get(image)
        if info is None:
            fail(kwhere(c, "image", at), f"{what}: image {image!r} is none of deploy/cluster/images' "
                                         f"({', '.join(self.project.images)})")
        if c.get("imagePullPolicy") == "Always":
            fail(kwhere(c, "imagePullPolicy", at), f"{what}: imagePullPolicy Always, but Millrace "
                                                   "publishes no images (they are built locally)")
        # resources
        res = c.get("resources") or {}
        for part in ("requests", "limits"):
            for r in ("cpu", "memory"):
                if r not in (res.get(part) or {}):
                    fail(at, f"{what}: no resources.{part}.{r}")
        for r in ("cpu", "memory"):
            rq, lm = (res.get("requests") or {}).get(r), (res.get("limits") or {}).get(r)
            if rq is not None and lm is not None and qty(rq) is not None and qty(lm) is not None \
                    and qty(rq) > qty(lm):
                fail(at, f"{what}: {r} request {rq} is above its limit {lm}")
        # ports
        ports = c.get("ports") or []
        names, numbers = {}, set()
        for p in ports:
            pn, num = p.get("name"), p.get("containerPort")
            if pn is not None:
                if not IANA_SVC.match(pn) or len(pn) > 15 or not re.search("[a-z]", pn):
                    fail(where(p, at), f"{what}: port name {pn!r} is not an IANA service name")
                if pn in names:
                    fail(where(p, at), f"{what}: port name {pn} twice")
                names[pn] = num
            if num in numbers:
                fail(where(p, at), f"{what}: containerPort {num} twice")
            if not isinstance(num, int) or not 0 < num < 65536:
                fail(where(p, at), f"{what}: containerPort {num!r}")
            numbers.add(num)
        # probes
        for probe in ("readinessProbe", "livenessProbe", "startupProbe"):
            pr = c.get(probe)
            if pr is None:
                if long_running and probe != "startupProbe":
                    fail(at, f"{what}: no {probe}")
                continue
            handlers = [h for h in HANDLERS if h in pr]
            if len(handlers) != 1:
                fail(where(pr, at), f"{what}: {probe} needs exactly one handler (has {handlers})")
                continue
            port = (pr[handlers[0]] or {}).get("port")
            if handlers[0] != "exec" and not (port in names or port in numbers):
                fail(where(pr, at), f"{what}: {probe} port {port!r} is none of the container's ports")
            if handlers[0] == "httpGet" and not str(pr["httpGet"].get("path", "/")).startswith("/"):
                fail(where(pr, at), f"{what}: {probe} path must start with /")
        # env
        defined = []
        for e in c.get("env") or []:
            en = e.get("name")
            if not ENV_NAME.match(str(en)):
                fail(where(e, at), f"{what}: env name {en!r}")
            if en in defined:
                fail(where(e, at), f"{what}: env {en} twice")
            if ("value" in e) == ("valueFrom" in e):
                fail(where(e, at), f"{what}: env {en} needs value or valueFrom (one)")
            vf = e.get("valueFrom") or {}
            if "secretKeyRef" in vf:
                ref = vf["secretKeyRef"]
                if ref.get("key") not in self.secrets.get(ref.get("name"), ()):
                    fail(where(e, at), f"{what}: env {en}: no Secret {ref.get('name')} with key {ref.get('key')}")
            if "configMapKeyRef" in vf:
                ref = vf["configMapKeyRef"]
                if ref.get("key") not in self.configmaps.get(ref.get("name"), {}):
                    fail(where(e, at), f"{what}: env {en}: no ConfigMap {ref.get('name')} with key {ref.get('key')}")
            if "fieldRef" in vf and vf["fieldRef"].get("fieldPath") not in (
                    "metadata.name", "metadata.namespace", "metadata.uid", "spec.nodeName",
                    "spec.serviceAccountName", "status.hostIP", "status.podIP", "status.podIPs"):
                fail(where(e, at), f"{what}: env {en}: fieldPath {vf['fieldRef'].get('fieldPath')!r}")
            for ref in re.findall(r"\$\(([^)]+)\)", str(e.get("value", ""))):
                if ref not in defined:
                    fail(where(e, at), f"{what}: env {en} uses $({ref}), not defined before it")
            defined.append(en)
        for field in ("command", "args"):
            for a in c.get(field) or []:
                for ref in re.findall(r"\$\(([^)]+)\)", str(a)):
                    if ref not in defined:
                        fail(kwhere(c, field, at), f"{what}: {field} uses $({ref}), which is not "
                                                   "an env var of the container")
        # mounts
        paths = set()
        for vm in c.get("volumeMounts") or []:
            if vm.get("name") not in vols and vm.get("name") not in vcts:
                fail(where(vm, at), f"{what}: mounts volume {vm.get('name')!r}, which the pod does "
                                    "not have")
            if vm.get("mountPath") in paths:
                fail(where(vm, at), f"{what}: two mounts at {vm.get('mountPath')}")
            if not str(vm.get("mountPath", "")).startswith("/"):
                fail(where(vm, at), f"{what}: mountPath must be absolute")
            paths.add(vm.get("mountPath"))
        # security
        csc = c.get("securityContext") or {}
        if csc.get("allowPrivilegeEscalation") is not False:
            fail(at, f"{what}: securityContext.allowPrivilegeEscalation must be false")
        if "ALL" not in ((csc.get("capabilities") or {}).get("drop") or []):
            fail(at, f"{what}: securityContext.capabilities.drop must include ALL")
        if (csc.get("capabilities") or {}).get("add"):
            fail(at, f"{what}: adds capabilities")
        if csc.get("privileged"):
            fail(at, f"{what}: privileged")
        if csc.get("readOnlyRootFilesystem") is not True:
            fail(at, f"{what}: securityContext.readOnlyRootFilesystem must be true")
        if csc.get("runAsNonRoot") is False or csc.get("runAsUser") == 0:
            fail(at, f"{what}: may run as root")
        if info:
            uid = csc.get("runAsUser", psc.get("runAsUser"))
            gid = csc.get("runAsGroup", psc.get("runAsGroup"))
            if info["uid"] is not None and uid != info["uid"]:
                fail(at, f"{what}: runs as uid {uid}, but its image's user is {info['uid']} "
                         f"({self.project.rel(info['path']) if hasattr(self.project, 'rel') else info['path']})")
            if info["gid"] is not None and gid is not None and gid != info["gid"]:
                fail(at, f"{what}: runs as gid {gid}, but its image's group is {info['gid']}")
            if info["gid"] is not None and psc.get("fsGroup") not in (None, info["gid"]):
                fail(at, f"{what}: fsGroup {psc.get('fsGroup')} is not its image's group {info['gid']}")
        # the daemon's files
        role = role_of(image)
        env = {e["name"]: e.get("value", "") for e in c.get("env") or [] if "name" in e}
        args = list(c.get("command") or []) + list(c.get("args") or [])
        if not c.get("args") and info and info.get("cmd"):
            args = list(info["cmd"])
        check_daemon_paths(role, env, args, self.volume_mounts(o, podspec, c), self.project,
                           self.files, at, what)
