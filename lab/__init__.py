"""The lab: the experiments run on top of the product (mini-swe-agent keeps its run scripts the same way).

- `lab.ablate`: `casebank ablate` and `casebank report`, the instrument that measures each lever.
- `lab.finetune`: `casebank finetune`, the road through the weights.

The lab may import the agent and the case bank; nothing below it imports the lab, and `serving/` and the lab do
not import each other (the import contracts in pyproject.toml, checked by `lint-imports` in `make test`).
"""
