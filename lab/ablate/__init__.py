"""`casebank ablate` and `casebank report`: the instrument that measures each lever.

- `records`: one `EpisodeRecord` per finished episode (the run's JSONL), and the run directory layout.
- `grid`: `AblationConfig` (one config of the grid) and `AblationGrid` (the YAML file plus flags).
- `runner`: runs a grid concurrently against the LLM server; resumable.
- `metrics`: success rates with bootstrap CIs, paired differences, pass@R, breakdowns.
- `report`: the Markdown table, JSON summary and PNG plots of a run directory.
"""
