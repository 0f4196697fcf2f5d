"""The Kubernetes API, as far as these manifests use it: the fields each kind has and their
types, the enums, and the name rules (DNS-1123 labels and subdomains, IANA port names, label
values, env names). validate checks an object against its kind's fields: unknown fields,
missing required ones, wrong types, invalid quantities and label values, values outside an
enum."""

import re

from .formats import qty
from .report import fail
from .yamlload import kwhere, where


DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
IANA_SVC = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
ENV_NAME = re.compile(r"^[-._a-zA-Z][-._a-zA-Z0-9]*$")


# ---------------------------------------------------------------------------------------
# The Kubernetes API, as far as these manifests use it: field -> type. A key starting with
# '!' is required. Types: str int bool qty intstr labels smap any, a dict, or [type].

META = {"!name": "str", "namespace": "str", "labels": "labels", "annotations": "smap"}
TMETA = {"name": "str", "labels": "labels", "annotations": "smap"}
SELECTOR = {"matchLabels": "labels",
            "matchExpressions": [{"!key": "str", "!operator": "str", "values": ["str"]}]}
RES = {"requests": {"cpu": "qty", "memory": "qty", "ephemeral-storage": "qty"},
       "limits": {"cpu": "qty", "memory": "qty", "ephemeral-storage": "qty"}}
HANDLERS = ("httpGet", "tcpSocket", "exec", "grpc")
PROBE = {"httpGet": {"!port": "intstr", "path": "str", "host": "str", "scheme": "str",
                     "httpHeaders": [{"!name": "str", "!value": "str"}]},
         "tcpSocket": {"!port": "intstr", "host": "str"},
         "exec": {"command": ["str"]},
         "grpc": {"!port": "int", "service": "str"},
         "initialDelaySeconds": "int", "periodSeconds": "int", "timeoutSeconds": "int",
         "failureThreshold": "int", "successThreshold": "int",
         "terminationGracePeriodSeconds": "int"}
SECCOMP = {"!type": "str", "localhostProfile": "str"}
CSC = {"allowPrivilegeEscalation": "bool", "readOnlyRootFilesystem": "bool",
       "runAsNonRoot": "bool", "runAsUser": "int", "runAsGroup": "int", "privileged": "bool",
       "capabilities": {"add": ["str"], "drop": ["str"]}, "seccompProfile": SECCOMP,
       "procMount": "str"}
PSC = {"runAsNonRoot": "bool", "runAsUser": "int", "runAsGroup": "int", "fsGroup": "int",
       "fsGroupChangePolicy": "str", "supplementalGroups": ["int"], "seccompProfile": SECCOMP,
       "sysctls": [{"!name": "str", "!value": "str"}]}
KEYREF = {"!name": "str", "!key": "str", "optional": "bool"}
ENVVAR = {"!name": "str", "value": "str",
          "valueFrom": {"fieldRef": {"!fieldPath": "str", "apiVersion": "str"},
                        "secretKeyRef": KEYREF, "configMapKeyRef": KEYREF,
                        "resourceFieldRef": {"!resource": "str", "containerName": "str",
                                             "divisor": "qty"}}}
CONTAINER = {"!name": "str", "!image": "str", "imagePullPolicy": "str", "command": ["str"],
             "args": ["str"], "workingDir": "str", "env": [ENVVAR],
             "envFrom": [{"configMapRef": {"!name": "str", "optional": "bool"},
                          "secretRef": {"!name": "str", "optional": "bool"}, "prefix": "str"}],
             "ports": [{"!containerPort": "int", "name": "str", "protocol": "str"}],
             "readinessProbe": PROBE, "livenessProbe": PROBE, "startupProbe": PROBE,
             "resources": RES, "securityContext": CSC,
             "volumeMounts": [{"!name": "str", "!mountPath": "str", "readOnly": "bool",
                               "subPath": "str", "mountPropagation": "str"}],
             "lifecycle": "any", "terminationMessagePolicy": "str", "stdin": "bool",
             "tty": "bool"}
ITEMS = [{"!key": "str", "!path": "str", "mode": "int"}]
VOLUME = {"!name": "str",
          "configMap": {"!name": "str", "items": ITEMS, "defaultMode": "int", "optional": "bool"},
          "secret": {"!secretName": "str", "items": ITEMS, "defaultMode": "int",
                     "optional": "bool"},
          "emptyDir": {"medium": "str", "sizeLimit": "qty"},
          "persistentVolumeClaim": {"!claimName": "str", "readOnly": "bool"},
          "projected": {"!sources": [{"secret": {"!name": "str", "items": ITEMS,
                                                 "optional": "bool"},
                                      "configMap": {"!name": "str", "items": ITEMS,
                                                    "optional": "bool"}}],
                        "defaultMode": "int"}}
VOLUME_KINDS = ("configMap", "secret", "emptyDir", "persistentVolumeClaim", "projected")
AFFINITY_TERM = {"!topologyKey": "str", "labelSelector": SELECTOR, "namespaces": ["str"]}
AFFINITY = {"podAntiAffinity": {
    "preferredDuringSchedulingIgnoredDuringExecution": [
        {"!weight": "int", "!podAffinityTerm": AFFINITY_TERM}],
    "requiredDuringSchedulingIgnoredDuringExecution": [AFFINITY_TERM]}}
PODSPEC = {"!containers": [CONTAINER], "initContainers": [CONTAINER], "volumes": [VOLUME],
           "securityContext": PSC, "restartPolicy": "str",
           "terminationGracePeriodSeconds": "int", "automountServiceAccountToken": "bool",
           "enableServiceLinks": "bool", "serviceAccountName": "str", "affinity": AFFINITY,
           "nodeSelector": "smap", "tolerations": "any", "priorityClassName": "str",
           "topologySpreadConstraints": "any", "activeDeadlineSeconds": "int"}
TEMPLATE = {"!metadata": TMETA, "!spec": PODSPEC}
PVCSPEC = {"!accessModes": ["str"], "!resources": {"!requests": {"!storage": "qty"}},
           "storageClassName": "str", "volumeMode": "str", "selector": SELECTOR}
SVCSPEC = {"type": "str", "selector": "labels", "clusterIP": "str",
           "publishNotReadyAddresses": "bool", "sessionAffinity": "str",
           "externalTrafficPolicy": "str", "internalTrafficPolicy": "str",
           "loadBalancerSourceRanges": ["str"], "loadBalancerClass": "str",
           "ports": [{"!port": "int", "name": "str", "targetPort": "intstr",
                      "protocol": "str", "nodePort": "int", "appProtocol": "str"}]}
KINDS = {
    ("v1", "Namespace"): {"!metadata": META},
    ("v1", "ConfigMap"): {"!metadata": META, "data": "smap", "immutable": "bool"},
    ("v1", "Secret"): {"!metadata": META, "data": "smap", "stringData": "smap", "type": "str"},
    ("v1", "Service"): {"!metadata": META, "!spec": SVCSPEC},
    ("v1", "PersistentVolumeClaim"): {"!metadata": META, "!spec": PVCSPEC},
    ("apps/v1", "Deployment"): {"!metadata": META, "!spec": {
        "replicas": "int", "!selector": SELECTOR, "!template": TEMPLATE,
        "strategy": {"type": "str", "rollingUpdate": {"maxUnavailable": "intstr",
                                                      "maxSurge": "intstr"}},
        "minReadySeconds": "int", "revisionHistoryLimit": "int",
        "progressDeadlineSeconds": "int"}},
    ("apps/v1", "StatefulSet"): {"!metadata": META, "!spec": {
        "replicas": "int", "!selector": SELECTOR, "!template": TEMPLATE, "!serviceName": "str",
        "podManagementPolicy": "str", "updateStrategy": "any", "minReadySeconds": "int",
        "volumeClaimTemplates": [{"!metadata": TMETA, "!spec": PVCSPEC}],
        "revisionHistoryLimit": "int",
        "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "str", "whenScaled": "str"}}},
    ("batch/v1", "Job"): {"!metadata": META, "!spec": {
        "!template": TEMPLATE, "backoffLimit": "int", "activeDeadlineSeconds": "int",
        "ttlSecondsAfterFinished": "int", "completions": "int", "parallelism": "int",
        "selector": SELECTOR, "suspend": "bool"}},
    ("policy/v1", "PodDisruptionBudget"): {"!metadata": META, "!spec": {
        "minAvailable": "intstr", "maxUnavailable": "intstr", "!selector": SELECTOR,
        "unhealthyPodEvictionPolicy": "str"}},
}
ENUMS = {
    "imagePullPolicy": {"Always", "IfNotPresent", "Never"},
    "restartPolicy": {"Always", "OnFailure", "Never"},
    "protocol": {"TCP", "UDP", "SCTP"},
    "podManagementPolicy": {"OrderedReady", "Parallel"},
    "medium": {"", "Memory"},
    "operator": {"In", "NotIn", "Exists", "DoesNotExist"},
}
ACCESS_MODES = {"ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"}


def validate(value, spec, path, at):
    """Type-checks value against spec; at: the nearest file:line."""
    at = where(value, at)
    if spec == "any":
        return
    if isinstance(spec, dict):
        if not isinstance(value, dict):
            fail(at, f"{path}: must be a mapping")
            return
        known = {k.lstrip("!"): v for k, v in spec.items()}
        for k in spec:
            if k.startswith("!") and k[1:] not in value:
                fail(at, f"{path}: {k[1:]} is required")
        for k, v in value.items():
            if k not in known:
                fail(kwhere(value, k, at), f"{path}.{k}: unknown field")
                continue
            validate(v, known[k], f"{path}.{k}", kwhere(value, k, at))
            if k in ENUMS and isinstance(v, str) and v not in ENUMS[k]:
                fail(kwhere(value, k, at), f"{path}.{k}: {v!r} is not one of {sorted(ENUMS[k])}")
        return
    if isinstance(spec, list):
        if not isinstance(value, list):
            fail(at, f"{path}: must be a list")
            return
        for i, item in enumerate(value):
            validate(item, spec[0], f"{path}[{i}]", at)
        return
    ok_type = {
        "str": lambda v: isinstance(v, str),
        "int": lambda v: isinstance(v, int) and not isinstance(v, bool),
        "bool": lambda v: isinstance(v, bool),
        "intstr": lambda v: isinstance(v, str) or (isinstance(v, int) and not isinstance(v, bool)),
        "qty": lambda v: (isinstance(v, (str, int)) and not isinstance(v, bool)
                          and qty(v) is not None),
        "smap": lambda v: isinstance(v, dict) and all(isinstance(x, str) for x in v.values()),
        "labels": lambda v: isinstance(v, dict) and all(
            isinstance(x, str) and len(x) <= 63 and LABEL_VALUE.match(x) for x in v.values()),
    }[spec]
    if not ok_type(value):
        fail(at, f"{path}: {value!r} is not a valid {spec}")
