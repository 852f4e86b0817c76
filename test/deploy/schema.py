"""Checks Kubernetes objects against the API's schemas, offline.

The schemas are those of Debian's python3-kubernetes: the official client, whose model classes
are generated from the Kubernetes OpenAPI spec (openapi_types: each field's type; attribute_map:
its JSON name; setters that refuse a missing required field). Reads a JSON list of objects on
stdin, prints a JSON list of problems, each "<index> <Kind>/<name>: <path>: <what>".
"""
import difflib
import json
import re
import sys

import kubernetes.client as k8s


def fail(problems, where, path, what):
    problems.append(f"{where}: {path or '(object)'}: {what}")


def api_class(api_version):
    """CoreV1Api for v1, AppsV1Api for apps/v1, RbacAuthorizationV1Api for rbac.authorization.k8s.io/v1."""
    group, _, version = api_version.rpartition("/")
    group = group.replace(".k8s.io", "").replace(".", "_") if group else "core"
    name = "".join(p.capitalize() for p in re.split(r"[_.-]", group)) + version.capitalize() + "Api"
    return getattr(k8s, name, None)


def snake(kind):
    return re.sub(r"(?<!^)(?=[A-Z])", "_", kind).lower()


def check_value(problems, where, path, value, type_name, quantity=False):
    if type_name == "object":  # IntOrString, Quantity, RawExtension: the schema allows several
        return
    if type_name in ("str", "datetime", "date"):
        if not isinstance(value, str) and not (quantity and isinstance(value, (int, float)) and not isinstance(value, bool)):
            fail(problems, where, path, f"expected a string, got {json.dumps(value)}")
        return
    if type_name == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            fail(problems, where, path, f"expected an integer, got {json.dumps(value)}")
        return
    if type_name == "float":
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            fail(problems, where, path, f"expected a number, got {json.dumps(value)}")
        return
    if type_name == "bool":
        if not isinstance(value, bool):
            fail(problems, where, path, f"expected true or false, got {json.dumps(value)}")
        return
    m = re.fullmatch(r"list\[(.+)\]", type_name)
    if m:
        if not isinstance(value, list):
            fail(problems, where, path, f"expected a list of {m.group(1)}")
            return
        for i, item in enumerate(value):
            check_value(problems, where, f"{path}[{i}]", item, m.group(1), quantity)
        return
    m = re.fullmatch(r"dict\(str, (.+)\)", type_name)
    if m:
        if not isinstance(value, dict):
            fail(problems, where, path, f"expected a map of {m.group(1)}")
            return
        for k, v in value.items():
            check_value(problems, where, f"{path}.{k}", v, m.group(1), quantity)
        return
    model = getattr(k8s, type_name, None)
    if model is None:
        fail(problems, where, path, f"no schema {type_name}")
        return
    check_model(problems, where, path, value, model)


def check_model(problems, where, path, value, model):
    if not isinstance(value, dict):
        fail(problems, where, path, f"expected an object ({model.__name__})")
        return
    by_json = {j: py for py, j in model.attribute_map.items()}
    for key, v in value.items():
        py = by_json.get(key)
        sub = f"{path}.{key}" if path else key
        if py is None:
            near = difflib.get_close_matches(key, list(by_json), n=1)
            hint = f" (did you mean {near[0]}?)" if near else ""
            fail(problems, where, sub, f"unknown field of {model.__name__}{hint}")
            continue
        quantity = model.__name__ == "V1ResourceRequirements"
        check_value(problems, where, sub, v, model.openapi_types[py], quantity)
    # The generated setters refuse a required field left out (and values outside an enum).
    try:
        model(**{by_json[k]: v for k, v in value.items() if k in by_json})
    except ValueError as e:
        fail(problems, where, path, str(e))


def main():
    problems = []
    for i, obj in enumerate(json.load(sys.stdin)):
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        name = (obj.get("metadata") or {}).get("name", "?")
        where = f"{i} {kind}/{name}"
        if not isinstance(kind, str) or not isinstance(api_version, str):
            fail(problems, where, "", "apiVersion and kind are required")
            continue
        api = api_class(api_version)
        methods = dir(api) if api else []
        if not any(m in methods for m in (f"create_namespaced_{snake(kind)}", f"create_{snake(kind)}")):
            fail(problems, where, "", f"the API has no kind {kind} in {api_version}")
            continue
        version = api_version.rpartition("/")[2]
        model = getattr(k8s, f"{version.capitalize()}{kind}", None)
        if model is None:
            fail(problems, where, "", f"no schema for {kind} {api_version}")
            continue
        check_model(problems, where, "", obj, model)
    json.dump(problems, sys.stdout)


main()
