"""A small, tolerant reader for CloudFormation/SAM YAML (the short tags !Ref, !Sub, !If, !GetAtt, ... become the
long forms {"Ref": ...}, {"Fn::Sub": ...}) and an evaluator of the parts the tests need: parameters, conditions,
Fn::If/AWS::NoValue, and Fn::Join/Split/Select/Sub over known values. Anything it cannot know (a resource's
attribute) stays as it is.
"""

from __future__ import annotations

import re
from typing import Any, Optional

import yaml


class _Loader(yaml.SafeLoader):
    pass


def _tagged(loader: _Loader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        value: Any = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "Condition":
        return {"Condition": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {"Fn::" + suffix: value}


_Loader.add_multi_constructor("!", _tagged)


def load(path: str) -> dict[str, Any]:
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=_Loader)  # noqa: S506 (a SafeLoader subclass)


class _NoValue:
    def __repr__(self) -> str:
        return "AWS::NoValue"


NO_VALUE = _NoValue()


class Evaluator:
    """A template under given parameter values and pseudo parameters."""

    def __init__(self, template: dict[str, Any], parameters: Optional[dict[str, Any]] = None,
                 region: str = "eu-west-1", account: str = "123456789012", stack_name: str = "gdr",
                 partition: str = "aws", resolve_arns: bool = False) -> None:
        self.template = template
        # With resolve_arns, Fn::GetAtt [X, Arn] of a queue or table becomes an ARN of its type (for IAM checks).
        self.resolve_arns = resolve_arns
        self.parameters: dict[str, Any] = {}
        given = parameters or {}
        for name, spec in (template.get("Parameters") or {}).items():
            value = given.get(name, spec.get("Default"))
            if spec.get("Type") == "CommaDelimitedList" and isinstance(value, str):
                value = value.split(",")
            self.parameters[name] = value
        unknown = set(given) - set(self.parameters)
        if unknown:
            raise KeyError(f"no such parameters: {sorted(unknown)}")
        self.pseudo = {"AWS::Region": region, "AWS::AccountId": account, "AWS::StackName": stack_name,
                       "AWS::Partition": partition, "AWS::URLSuffix": "amazonaws.com"}
        self._conditions: dict[str, bool] = {}

    # Conditions

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            self._conditions[name] = self.truth(self.template["Conditions"][name])
        return self._conditions[name]

    def truth(self, node: Any) -> bool:
        if isinstance(node, dict) and len(node) == 1:
            (key, arg), = node.items()
            if key == "Fn::Equals":
                return self.value(arg[0]) == self.value(arg[1])
            if key == "Fn::Not":
                return not self.truth(arg[0])
            if key == "Fn::And":
                return all(self.truth(a) for a in arg)
            if key == "Fn::Or":
                return any(self.truth(a) for a in arg)
            if key == "Condition":
                return self.condition(arg)
        raise ValueError(f"not a condition: {node!r}")

    def exists(self, logical_id: str) -> bool:
        resource = self.template["Resources"][logical_id]
        return "Condition" not in resource or self.condition(resource["Condition"])

    def resources(self, typ: Optional[str] = None) -> dict[str, dict[str, Any]]:
        """The resources that exist under these parameters, with their properties evaluated."""
        return {
            name: {**r, "Properties": self.value(r.get("Properties") or {})}
            for name, r in self.template["Resources"].items()
            if (typ is None or r["Type"] == typ) and self.exists(name)
        }

    # Values

    def value(self, node: Any) -> Any:
        if isinstance(node, list):
            return [v for v in (self.value(x) for x in node) if v is not NO_VALUE]
        if not isinstance(node, dict):
            return node
        if len(node) == 1:
            (key, arg), = node.items()
            if key == "Ref":
                if arg == "AWS::NoValue":
                    return NO_VALUE
                if arg in self.parameters:
                    return self.parameters[arg]
                if arg in self.pseudo:
                    return self.pseudo[arg]
                return node  # a resource
            if key == "Fn::If":
                return self.value(arg[1] if self.condition(arg[0]) else arg[2])
            if key == "Condition":
                return self.condition(arg)
            if key == "Fn::Join":
                sep, parts = self.value(arg[0]), self.value(arg[1])
                if isinstance(parts, list) and all(isinstance(p, str) for p in parts):
                    return sep.join(parts)
                return {key: [sep, parts]}
            if key == "Fn::Split":
                sep, text = self.value(arg[0]), self.value(arg[1])
                return text.split(sep) if isinstance(text, str) else {key: [sep, text]}
            if key == "Fn::Select":
                index, items = self.value(arg[0]), self.value(arg[1])
                if isinstance(items, list):
                    return items[int(index)]
                return {key: [index, items]}
            if key == "Fn::Sub":
                return self._sub(arg)
            if key == "Fn::GetAtt" and self.resolve_arns and arg[1] == "Arn":
                arn = self._arn(arg[0])
                if arn is not None:
                    return arn
        return {k: v for k, v in ((k, self.value(v)) for k, v in node.items()) if v is not NO_VALUE}

    def _arn(self, logical_id: str) -> Optional[str]:
        typ = (self.template["Resources"].get(logical_id) or {}).get("Type")
        p, r, a = self.pseudo["AWS::Partition"], self.pseudo["AWS::Region"], self.pseudo["AWS::AccountId"]
        name = f"{self.pseudo['AWS::StackName']}-{logical_id}"
        return {
            "AWS::SQS::Queue": f"arn:{p}:sqs:{r}:{a}:{name}",
            "AWS::DynamoDB::Table": f"arn:{p}:dynamodb:{r}:{a}:table/{name}",
        }.get(typ)

    def _sub(self, arg: Any) -> Any:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.value(arg[1]))
        unresolved = False

        def replace(m: re.Match) -> str:
            nonlocal unresolved
            name = m.group(1)
            for source in (variables, self.parameters, self.pseudo):
                if name in source and isinstance(source[name], str):
                    return source[name]
            unresolved = True
            return m.group(0)

        result = re.sub(r"\$\{([^}!]+)\}", replace, text)
        return {"Fn::Sub": result} if unresolved else result
