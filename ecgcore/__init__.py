"""ecgcore: synthetic ECGs, transfer learning from regression to classification, and their evaluation.

A plain Python package: it never imports Streamlit. The dashboard (`app.py`, `views/`) and the CLI
(`python -m ecgcore`) are thin layers over it.
"""

__version__ = "0.1.0"
