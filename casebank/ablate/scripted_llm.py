"""`python -m casebank.ablate.scripted_llm`, kept: the scripted OpenAI-compatible server is casebank.llm.scripted."""

from casebank.llm.scripted import create_app, decide, main

__all__ = ["create_app", "decide", "main"]

if __name__ == "__main__":
    main()
