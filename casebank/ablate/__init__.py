"""Moved: the ablation code is `lab.ablate` (the lab sits above the agent). This package keeps only the old
`python -m casebank.ablate.scripted_llm` entry point; the scripted server is casebank.llm.scripted."""
