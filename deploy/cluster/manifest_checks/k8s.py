"""The Kubernetes manifests (deploy/cluster/kubernetes/): every file parses; the
kustomization lists exactly the files there are and its secret generators take files
compose/make-secrets makes; each object is a kind these manifests may use, with the API's
fields for it (k8s_schema), a valid name, the kustomization's namespace, valid label keys;
no object twice; the configuration files the ConfigMaps carry parse. The K8s class is the
whole check: the workloads' checks come from k8s_workloads, the Services', PDBs' and the
host:port wiring's from k8s_services."""

import configparser
import glob
import os
import re
import tomllib

import yaml

from .formats import parse_haproxy, parse_ini
from .k8s_schema import DNS_LABEL, DNS_SUBDOMAIN, KINDS, validate
from .k8s_services import K8sServices
from .k8s_workloads import K8sWorkloads
from .report import failures, fail, ok
from .yamlload import LDict, kwhere, load_yaml_docs, where


class K8s(K8sWorkloads, K8sServices):
    def __init__(self, project, args):
        self.project = project
        self.args = args
        self.dir = os.path.join(project.cluster, "kubernetes")
        self.objects = []      # LDict with .path
        self.kustomization = None
        self.namespace = None
        self.secrets = {}      # name -> set of keys
        self.configmaps = {}   # name -> LDict data
        self.pvcs = set()
        self.pods = []         # (workload, podspec, labels, replicas)
        self.files = {}        # central.toml etc. parsed: name -> value
        self.texts = {}        # name -> (text, file, first line)

    def rel(self, path):
        return os.path.relpath(path, self.project.root)

    def load(self):
        files = sorted(glob.glob(os.path.join(self.dir, "*.yaml")))
        ok_parse = True
        for f in files:
            docs = load_yaml_docs(f, self.rel(f))
            if docs is None:
                ok_parse = False
                continue
            for d, line in docs:
                if os.path.basename(f) == "kustomization.yaml":
                    self.kustomization = d
                elif isinstance(d, LDict):
                    self.objects.append(d)
                else:
                    fail(f"{self.rel(f)}:{line}", "a document that is not a mapping")
        if ok_parse:
            ok(f"kubernetes: {len(files)} files parse ({len(self.objects)} objects)")
        return ok_parse

    def check(self):
        self.check_kustomization()
        for o in self.objects:
            self.check_object(o)
        self.check_workloads()
        self.check_services()
        self.check_pdbs()
        self.check_wiring()

    def check_kustomization(self):
        k = self.kustomization
        if k is None:
            fail(self.rel(self.dir), "no kustomization.yaml")
            return
        if k.get("apiVersion") != "kustomize.config.k8s.io/v1beta1" or k.get("kind") != "Kustomization":
            fail(where(k), "kustomization.yaml: apiVersion/kind are not kustomize's")
        self.namespace = k.get("namespace")
        listed = set(k.get("resources") or [])
        present = {os.path.basename(f) for f in glob.glob(os.path.join(self.dir, "*.yaml"))} - {"kustomization.yaml"}
        for f in sorted(listed - present):
            fail(kwhere(k, "resources"), f"kustomization.yaml lists {f}, which does not exist")
        for f in sorted(present - listed):
            fail(kwhere(k, "resources"), f"{f} is not in kustomization.yaml's resources")
        for gen in k.get("secretGenerator") or []:
            keys = set()
            for entry in gen.get("files") or []:
                key, _, src = entry.partition("=")
                if not src:
                    key, src = os.path.basename(entry), entry
                if not src.startswith("secrets/"):
                    fail(where(gen), f"secret {gen.get('name')}: {src} is not under secrets/ "
                                     "(where make-secrets writes)")
                elif os.path.basename(src) not in self.project.made_secrets:
                    fail(where(gen), f"secret {gen.get('name')}: {src} is no file "
                                     "compose/make-secrets makes")
                keys.add(key)
            for lit in gen.get("literals") or []:
                keys.add(lit.split("=", 1)[0])
            self.secrets[gen["name"]] = keys
        if not failures:
            ok(f"kustomization: namespace {self.namespace}, {len(listed)} resources, "
               f"{len(self.secrets)} generated secrets from make-secrets' files")

    def index(self):
        seen = {}
        for o in self.objects:
            key = (o.get("kind"), (o.get("metadata") or {}).get("name"))
            if key in seen:
                fail(where(o), f"{key[0]} {key[1]} is defined twice (also {seen[key]})")
            seen[key] = where(o)
            kind, md = o.get("kind"), o.get("metadata") or {}
            if kind == "ConfigMap":
                self.configmaps[md.get("name")] = o.get("data") or {}
            elif kind == "Secret":
                self.secrets[md.get("name")] = set((o.get("data") or {}).keys()) | set(
                    (o.get("stringData") or {}).keys())
            elif kind == "PersistentVolumeClaim":
                self.pvcs.add(md.get("name"))
        for name, data in self.configmaps.items():
            for key, text in data.items():
                cm = next(o for o in self.objects if o.get("kind") == "ConfigMap"
                          and o["metadata"]["name"] == name)
                self.texts[key] = (text, cm.path, cm["data"].klines[key] + 1)

    def check_object(self, o):
        at = where(o)
        api, kind = o.get("apiVersion"), o.get("kind")
        spec = KINDS.get((api, kind))
        if spec is None:
            fail(at, f"apiVersion {api!r} kind {kind!r} is not one these manifests may use "
                     f"({', '.join(f'{a} {k}' for a, k in KINDS)})")
            return
        body = {k: v for k, v in o.items() if k not in ("apiVersion", "kind")}
        body = LDict(body)
        body.line, body.path, body.klines = o.line, o.path, o.klines
        validate(body, spec, kind, at)
        md = o.get("metadata") or {}
        name = md.get("name", "")
        rx = DNS_LABEL if kind in ("Service", "Namespace") else DNS_SUBDOMAIN
        if not isinstance(name, str) or not rx.match(name) or len(name) > (63 if rx is DNS_LABEL else 253):
            fail(at, f"{kind} name {name!r} is not a valid DNS-1123 "
                     f"{'label' if rx is DNS_LABEL else 'subdomain'}")
        if kind == "Namespace":
            if name != self.namespace:
                fail(at, f"Namespace {name} is not the kustomization's namespace {self.namespace}")
        elif md.get("namespace") != self.namespace:
            fail(at, f"{kind} {name}: namespace {md.get('namespace')!r}, not {self.namespace!r}")
        for k in (md.get("labels") or {}):
            if not re.match(r"^([a-z0-9.-]+/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$", k):
                fail(at, f"{kind} {name}: label key {k!r} is not valid")

    def load_files(self):
        """Index the objects; parse the configuration files the ConfigMaps carry."""
        self.index()
        for key, (text, path, line) in self.texts.items():
            try:
                if key.endswith(".toml"):
                    self.files[key] = tomllib.loads(text)
                elif key.endswith(".ini"):
                    self.files[key] = parse_ini(text, key)
                elif key.endswith(".yml") or key.endswith(".yaml"):
                    self.files[key] = yaml.safe_load(text)
                elif key.endswith(".cfg"):
                    self.files[key] = parse_haproxy(text)
            except (tomllib.TOMLDecodeError, configparser.Error, yaml.YAMLError) as e:
                fail(f"{path}:{line}", f"{key} in a ConfigMap does not parse: {e}")
