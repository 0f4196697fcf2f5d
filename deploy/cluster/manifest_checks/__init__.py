"""The checks of deploy/cluster/check_manifests, one module per subject:

report         the ok/skip lines and the failures
yamlload       YAML with line numbers and duplicate-key errors; where/kwhere (file:line)
formats        conninfo, INI, haproxy.cfg, quantities; the host:port a configuration names
k8s_schema     the Kubernetes API's fields, enums and name rules; validate
project        the images, make-secrets' files, entrypoints; mounts; each daemon's paths
k8s            the Kubernetes manifests: kustomization, objects, ConfigMaps' files
k8s_workloads  Deployments, StatefulSets, Jobs: pods, volumes, containers, security
k8s_services   Services, PodDisruptionBudgets, host:port wiring
compose        the Docker Compose file
configs        central.toml, pgbouncer.ini, haproxy.cfg, patroni.yml; compose vs Kubernetes
tools          haproxy, pgbouncer, patroni, etcd, kubectl kustomize, mes-central; images
"""
