"""SDTM: the tabulation datasets, their Define-XML 2.1, as SAS transport v5 and CSV.

`spec` declares each domain's variables (name, label, type, origin and where the value
comes from: the mapping table of docs/sdtm.md is generated from it), `build` fills them
from the CSV export's rows, `write` writes `.xpt`, `.csv` and `define.xml`.
"""
