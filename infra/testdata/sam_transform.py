"""Transform a packaged SAM template into CloudFormation, as `sam deploy`
has CloudFormation do it, with aws-sam-translator (the library SAM uses).

Usage: python3 sam_transform.py TEMPLATE PARAMETERS_JSON
Prints the CloudFormation template as JSON. Exit status 3: the library is
not installed (the caller says so and skips).
"""
import json
import os
import sys

try:
    from samtranslator.translator.transform import transform
    from samtranslator.yaml_helper import yaml_parse
except ImportError as e:  # pragma: no cover
    print(f"aws-sam-translator is not installed: {e}", file=sys.stderr)
    sys.exit(3)


class NoManagedPolicies:
    """The templates here name no managed policy; SAM asks only for those."""

    def load(self):
        return {}


def main():
    os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    with open(sys.argv[1]) as f:
        template = yaml_parse(f.read())
    with open(sys.argv[2]) as f:
        parameters = json.load(f)
    out = transform(template, parameters, NoManagedPolicies())
    json.dump(out, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    main()
