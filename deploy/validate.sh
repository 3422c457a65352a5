#!/usr/bin/env bash
# validate.sh — placeholder; the full check (compose config, helm lint/template,
# schema validation) lands with the deployment files of issue 6.
echo "deploy/validate.sh: nothing to validate yet"
