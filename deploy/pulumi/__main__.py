"""The Pulumi program: guardduty-router on AWS (see README.md). The resources are in router_stack.py."""

import pulumi

import router_stack

deployment = router_stack.build(router_stack.settings_from_config())
for name, value in deployment.outputs.items():
    pulumi.export(name, value)
