"""YAML with line numbers and duplicate-key errors: the loader the compose file, the
Kubernetes manifests and patroni.yml go through, which fails a document that does not parse
or repeats a key as file:line; and where/kwhere, the file:line of a loaded mapping or list,
or of one of a mapping's keys, for the other checks' messages."""

import yaml

from .report import fail


class LDict(dict):
    line = 0
    klines = None
    path = ""


class LList(list):
    line = 0
    path = ""


class DuplicateKey(yaml.MarkedYAMLError):
    pass


class Loader(yaml.SafeLoader):
    source_path = ""


def _construct_map(loader, node):
    data = LDict()
    data.line = node.start_mark.line + 1
    data.path = loader.source_path
    yield data
    seen = {}
    for k, _ in node.value:
        if k.tag == "tag:yaml.org,2002:merge":
            continue
        key = loader.construct_object(k, deep=True)
        if isinstance(key, (str, int, float, bool)) and key in seen:
            raise DuplicateKey(None, None, f"duplicate key {key!r} (first on line {seen[key]})",
                               k.start_mark)
        seen[key] = k.start_mark.line + 1
    loader.flatten_mapping(node)
    data.klines = {}
    for k, v in node.value:
        key = loader.construct_object(k, deep=True)
        data[key] = loader.construct_object(v, deep=True)
        data.klines[key] = k.start_mark.line + 1


def _construct_seq(loader, node):
    data = LList()
    data.line = node.start_mark.line + 1
    data.path = loader.source_path
    yield data
    data.extend(loader.construct_sequence(node, deep=True))


Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml_docs(path, rel):
    """[(doc, line)], or None after recording the parse error as rel:line."""
    with open(path) as f:
        text = f.read()
    loader = Loader(text)
    loader.source_path = rel
    docs = []
    try:
        while loader.check_data():
            line = loader.peek_event().start_mark.line + 1 if loader.peek_event() else 0
            docs.append((loader.get_data(), line))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{rel}:{mark.line + 1}:{mark.column + 1}" if mark else rel
        fail(where, f"YAML does not parse: {getattr(e, 'problem', None) or e}")
        return None
    finally:
        loader.dispose()
    return [(d, line) for d, line in docs if d is not None]


def where(obj, default=""):
    if isinstance(obj, (LDict, LList)) and obj.path:
        return f"{obj.path}:{obj.line}"
    return default


def kwhere(obj, key, default=""):
    if isinstance(obj, LDict) and obj.klines and key in obj.klines:
        return f"{obj.path}:{obj.klines[key]}"
    return where(obj, default)
