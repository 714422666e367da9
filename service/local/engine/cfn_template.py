"""Read template.yaml as CloudFormation does: tags, parameters, conditions and the intrinsics we use.

The embedded stack creates its resources from these resolved properties, so the local stack
cannot drift from what `sam deploy` ships.
"""

from __future__ import annotations

import copy
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import yaml

from recovery_ops.service.errors import RecoveryOpsError

# the checkout's root, or in an installed wheel the recovery_ops directory, which holds template.yaml
# and infra/ beside service/ as the checkout does (pyproject.toml, [tool.setuptools])
PROJECT_ROOT = Path(__file__).resolve().parents[3]
TEMPLATE_PATH = PROJECT_ROOT / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    """A YAML loader that keeps CloudFormation short-form tags (`!Ref`, `!GetAtt`, `!Sub`, ...)."""


def _construct_tag(loader: _CfnLoader, tag_suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:  # the one kind left
        value = loader.construct_mapping(cast(yaml.MappingNode, node), deep=True)
    if tag_suffix == "Ref":
        return {"Ref": value}
    if tag_suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    if tag_suffix == "Condition":
        return {"Condition": value}
    return {f"Fn::{tag_suffix}": value}


_CfnLoader.add_multi_constructor("!", _construct_tag)


def load_template(path: Path = TEMPLATE_PATH) -> dict[str, Any]:
    """The template as data (a fresh copy: callers may change it)."""
    return copy.deepcopy(_parsed(path, path.stat().st_mtime_ns))


@functools.lru_cache(maxsize=8)
def _parsed(path: Path, modified: int) -> dict[str, Any]:
    return yaml.load(path.read_text(), Loader=_CfnLoader)  # noqa: S506 - a SafeLoader subclass


class UnsupportedIntrinsicError(RecoveryOpsError, ValueError):
    pass


class _NoValue:
    """`Ref: AWS::NoValue`: the property or list item it stands for is left out."""

    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()
_LIST_PARAMETER_TYPES = ("CommaDelimitedList", "List<")


@dataclass
class ResolutionContext:
    """What `Ref`, `Fn::GetAtt` and `${...}` resolve to in one local deployment."""

    parameters: dict[str, str]
    pseudo: dict[str, str]
    resources: dict[str, dict[str, str]] = field(default_factory=dict)  # logical id -> {"Ref":..,"Arn":..}
    conditions: dict[str, bool] = field(default_factory=dict)
    list_parameters: frozenset[str] = frozenset()  # their Ref is a list, as in CloudFormation
    imports: dict[str, str] = field(default_factory=dict)  # export name -> value, for Fn::ImportValue

    def import_value(self, name: str) -> str:
        try:
            return self.imports[name]
        except KeyError:
            known = ", ".join(sorted(self.imports)) or "none"
            raise KeyError(
                f"Fn::ImportValue {name!r}: no stack exports it (the exports here: {known})"
            ) from None

    def ref(self, name: str) -> Any:
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in self.pseudo:
            return self.pseudo[name]
        if name in self.list_parameters:
            return self.parameters[name].split(",")
        if name in self.parameters:
            return self.parameters[name]
        if name in self.resources:
            return self.resources[name]["Ref"]
        raise KeyError(f"nothing named {name!r} to Ref")

    def get_att(self, logical_id: str, attribute: str) -> str:
        try:
            return self.resources[logical_id][attribute]
        except KeyError as exc:
            raise KeyError(f"no attribute {attribute!r} on {logical_id!r} in the local stack") from exc


_SUB_VARIABLE = re.compile(r"\$\{([^}!]+)\}")


def resolve(value: Any, ctx: ResolutionContext) -> Any:
    """Resolve intrinsic functions in ``value`` (recursively); what resolves to `AWS::NoValue` is left out."""
    if isinstance(value, list):
        return [item for item in (resolve(v, ctx) for v in value) if item is not NO_VALUE]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref":
            return ctx.ref(arg)
        if key == "Fn::GetAtt":
            return ctx.get_att(*arg)
        if key == "Fn::Sub":
            return _sub(arg, ctx)
        if key == "Fn::ImportValue":
            return ctx.import_value(str(resolve(arg, ctx)))
        if key == "Fn::If":
            condition, when_true, when_false = arg
            return resolve(when_true if ctx.conditions[condition] else when_false, ctx)
        if key == "Fn::Equals":
            left, right = (resolve(v, ctx) for v in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not resolve(arg[0], ctx)
        if key == "Fn::And":
            return all(resolve(v, ctx) for v in arg)
        if key == "Fn::Or":
            return any(resolve(v, ctx) for v in arg)
        if key == "Condition":
            return ctx.conditions[arg]
        if key == "Fn::Join":
            separator, items = arg
            values = resolve(items, ctx)
            if isinstance(values, str):  # the Ref of a CommaDelimitedList parameter
                values = values.split(",") if values else []
            return separator.join(str(resolve(v, ctx)) for v in values)
        if key == "Fn::Select":
            index, items = arg
            return resolve(items, ctx)[int(resolve(index, ctx))]
        if key == "Fn::Split":
            separator, text = arg
            return str(resolve(text, ctx)).split(separator)
        if key.startswith("Fn::"):
            raise UnsupportedIntrinsicError(key)
    resolved = {k: resolve(v, ctx) for k, v in value.items()}
    return {k: v for k, v in resolved.items() if v is not NO_VALUE}


def _sub(arg: Any, ctx: ResolutionContext) -> str:
    if isinstance(arg, list):
        text, variables = arg
        variables = {k: resolve(v, ctx) for k, v in variables.items()}
    else:
        text, variables = arg, {}

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in variables:
            return str(variables[name])
        if "." in name:
            return str(ctx.get_att(*name.split(".", 1)))
        return str(ctx.ref(name))

    return _SUB_VARIABLE.sub(replace, text)


def parameter_values(template: dict[str, Any], overrides: dict[str, str] | None = None) -> dict[str, str]:
    values = {name: str(spec.get("Default", "")) for name, spec in template.get("Parameters", {}).items()}
    for name, value in (overrides or {}).items():
        if name not in values:
            raise KeyError(f"template.yaml has no parameter {name!r}")
        values[name] = str(value)
    return values


def list_parameters(template: dict[str, Any]) -> frozenset[str]:
    """Parameters whose `Ref` is a list (CommaDelimitedList, List<...>)."""
    return frozenset(
        name
        for name, spec in template.get("Parameters", {}).items()
        if str(spec.get("Type", "")).startswith(_LIST_PARAMETER_TYPES)
    )


def evaluate_conditions(template: dict[str, Any], ctx: ResolutionContext) -> dict[str, bool]:
    """Every condition of the template, in any order (a condition may use one defined after it)."""
    expressions = template.get("Conditions", {})

    def evaluate(name: str, seen: tuple[str, ...] = ()) -> bool:
        if name not in ctx.conditions:
            if name in seen:
                raise ValueError(f"conditions refer to each other in a cycle: {' -> '.join((*seen, name))}")
            for needed in _conditions_in(expressions[name]):
                evaluate(needed, (*seen, name))
            ctx.conditions[name] = bool(resolve(expressions[name], ctx))
        return ctx.conditions[name]

    for name in expressions:
        evaluate(name)
    return ctx.conditions


def _conditions_in(value: Any) -> set[str]:
    if isinstance(value, list):
        return set().union(*(_conditions_in(v) for v in value)) if value else set()
    if isinstance(value, dict):
        if set(value) == {"Condition"} and isinstance(value["Condition"], str):
            return {value["Condition"]}
        return set().union(*(_conditions_in(v) for v in value.values())) if value else set()
    return set()


def references(value: Any, conditions: dict[str, bool]) -> set[str]:
    """Logical ids and parameters that ``value`` refers to (`Ref`, `Fn::GetAtt`, `${...}` in `Fn::Sub`),
    following only the branch of each `Fn::If` that ``conditions`` choose."""
    if isinstance(value, list):
        return set().union(*(references(v, conditions) for v in value)) if value else set()
    if not isinstance(value, dict):
        return set()
    if len(value) == 1:
        ((key, arg),) = value.items()
        if key == "Ref" and isinstance(arg, str):
            return {arg}
        if key == "Fn::GetAtt":
            return {arg[0]}
        if key == "Fn::If":
            condition, when_true, when_false = arg
            return references(when_true if conditions[condition] else when_false, conditions)
        if key == "Fn::Sub":
            text, variables = arg if isinstance(arg, list) else (arg, {})
            named = {m.group(1).split(".", 1)[0] for m in _SUB_VARIABLE.finditer(text)}
            return (named - set(variables)) | references(variables, conditions)
    return set().union(*(references(v, conditions) for v in value.values()))


def function_properties(template: dict[str, Any], logical_id: str) -> dict[str, Any]:
    """A function's properties with `Globals.Function` merged in (environment variables merged too)."""
    globals_ = template.get("Globals", {}).get("Function", {})
    own = template["Resources"][logical_id]["Properties"]
    merged = {**globals_, **own}
    env = {
        **globals_.get("Environment", {}).get("Variables", {}),
        **own.get("Environment", {}).get("Variables", {}),
    }
    merged["Environment"] = {"Variables": env}
    return merged
